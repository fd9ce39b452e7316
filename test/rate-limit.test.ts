/**
 * Issue 19 part 1: pacing at the vendor's budget. The bucket (GCRA) and the pacer with a fake
 * clock / fake timers; the PostgreSQL bucket store on the real database (shared by two pools, fail
 * closed when unreachable); end to end over HTTP: refusals send nothing, a 429 pauses the whole
 * connection, two gateways on one PostgreSQL share one budget. Counts and order, never milliseconds.
 */
import { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { createPostgresAuditStore } from '../src/audit/postgres.ts';
import { resolveConfig, type ConnectionConfig } from '../src/config/schema.ts';
import { createMemoryBucketStore, createPacer, gcraOf, RateLimitRefusal, type BucketStore } from '../src/upstream/rate-limit.ts';
import { createPostgresBucketStore } from '../src/audit/pg-buckets.ts';
import { recordSeen, registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';
import { dropSchema, sql, testDatabaseUrl, uniqueSchema } from './pg.ts';

const TOKEN = 'mesa_ratelimit_admin_5a6b7c8d';
registerSecret(TOKEN);

function connection(rateLimit: ConnectionConfig['rateLimit'], extra: Record<string, unknown> = {}): ConnectionConfig {
  const config = resolveConfig({ providers: { m: { kind: 'mesa', baseUrl: 'http://127.0.0.1:9', org: 'acme', token: TOKEN, ...extra } }, audit: false });
  return { ...config.providers.get('m')!, rateLimit };
}

describe('the bucket (GCRA, memory store)', () => {
  it('lets a full burst through at once, then one token per interval, reserved in order', async () => {
    let t = 0;
    const store = createMemoryBucketStore(() => t);
    const gcra = gcraOf({ requests: 2, perSeconds: 1, burst: 3 }); // a token every 500 ms
    const waits = [];
    for (let i = 0; i < 5; i++) waits.push((await store.reserve('s', gcra, 10_000)).waitMs);
    expect(waits).toEqual([0, 0, 0, 500, 1000]);
    // A taker that may wait only 1000 ms is refused and reserves nothing: the next may still have 1500.
    expect(await store.reserve('s', gcra, 1000)).toEqual({ reserved: false, waitMs: 1500 });
    expect(await store.reserve('s', gcra, 1500)).toEqual({ reserved: true, waitMs: 1500 });
    // Time refills the bucket up to its burst, never beyond.
    t = 100_000;
    const later = [];
    for (let i = 0; i < 4; i++) later.push((await store.reserve('s', gcra, 10_000)).waitMs);
    expect(later).toEqual([0, 0, 0, 500]);
  });

  it('a pause empties the bucket until it is over; buckets of other scopes are untouched', async () => {
    const t = 0;
    const store = createMemoryBucketStore(() => t);
    const gcra = gcraOf({ requests: 10, perSeconds: 1, burst: 10 });
    await store.pause('a', gcra, 2000);
    expect(await store.reserve('a', gcra, 10_000)).toEqual({ reserved: true, waitMs: 2000 });
    expect(await store.reserve('a', gcra, 10_000)).toEqual({ reserved: true, waitMs: 2100 });
    expect(await store.reserve('b', gcra, 0)).toEqual({ reserved: true, waitMs: 0 });
  });
});

describe('the pacer (fake timers)', () => {
  afterEach(() => vi.useRealTimers());

  it('waits for its token within the deadline, and refuses with "rate limit budget exhausted" past it', async () => {
    vi.useFakeTimers();
    const now = () => Date.now();
    const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store: createMemoryBucketStore(now), now })!;
    await pacer.take(5000);
    let second = false;
    const waiting = pacer.take(5000).then(() => (second = true));
    await vi.advanceTimersByTimeAsync(999);
    expect(second).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await waiting;
    expect(second).toBe(true);
    // The next token is 1 s away: a call with 500 ms left is refused at once, nothing reserved.
    const refused = await pacer.take(500).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RateLimitRefusal);
    expect((refused as RateLimitRefusal).message).toMatch(/^m: rate limit budget exhausted .*nothing was sent$/);
    expect((refused as RateLimitRefusal).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'm', retryAfter: 1 });
  });

  it('a 429 pauses every caller for its Retry-After, one without it for a doubling backoff; headers Mesa does not document are not read', async () => {
    vi.useFakeTimers();
    const now = () => Date.now();
    const pacer = createPacer(connection({ requests: 100, perSeconds: 1, burst: 100 }), { store: createMemoryBucketStore(now), now })!;
    await pacer.take(0);
    pacer.observe(429, new Headers({ 'retry-after': '3' }));
    await expect(pacer.take(2900)).rejects.toThrow(/rate limit budget exhausted/);
    let done = 0;
    const waiters = [pacer.take(10_000), pacer.take(10_000)].map((p) => p.then(() => (done += 1)));
    await vi.advanceTimersByTimeAsync(2990);
    expect(done).toBe(0);
    await vi.advanceTimersByTimeAsync(100);
    await Promise.all(waiters);
    expect(done).toBe(2);

    pacer.observe(200, new Headers()); // an answer that is not a 429 ends the backoff sequence
    pacer.observe(429, new Headers());
    await expect(pacer.take(900)).rejects.toThrow(/rate limit budget exhausted/);
    pacer.observe(429, new Headers());
    await expect(pacer.take(1900)).rejects.toThrow(/rate limit budget exhausted/);
    await vi.advanceTimersByTimeAsync(2000);
    // Mesa documents no rate-limit headers (the vendors that do: test/rate-limit-headers.test.ts).
    pacer.observe(200, new Headers({ 'ratelimit-remaining': '0', 'x-ratelimit-remaining': '0' }));
    await expect(pacer.take(0)).resolves.toBeUndefined();
  });

  it('a waiter holding a token reserved before a 429 waits out the pause too', async () => {
    vi.useFakeTimers();
    const now = () => Date.now();
    const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store: createMemoryBucketStore(now), now })!;
    await pacer.take(0);
    let done = false;
    const waiting = pacer.take(60_000).then(() => (done = true));
    pacer.observe(429, new Headers({ 'retry-after': '5' }));
    await vi.advanceTimersByTimeAsync(4000);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(2000);
    await waiting;
    expect(done).toBe(true);
  });

  it('a store that cannot answer fails closed: UPSTREAM_UNAVAILABLE, nothing taken', async () => {
    const broken: BucketStore = { shared: true, reserve: () => Promise.reject(new Error('connection refused')), pause: () => Promise.resolve() };
    const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store: broken })!;
    const err = await pacer.take(1000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitRefusal);
    expect((err as Error).message).toMatch(/rate limit budget unavailable \(the shared rate-limit store cannot be reached\); nothing was sent/);
  });

  it('is off with `rateLimit: false`, signals only without a budget, and Atlas defaults to its documented bucket (500, 250 per 60 s)', () => {
    expect(createPacer(connection(false), { store: createMemoryBucketStore() })).toBeUndefined();
    const config = resolveConfig({
      providers: {
        atlas: { kind: 'atlas', orgId: '5f1a2b3c4d5e6f7a8b9c0d1e', publicKey: 'abcdefgh', privateKey: 'x-y-z-private-1234' },
        mesa: { kind: 'mesa', org: 'acme', token: TOKEN },
        mine: { kind: 'mesa', org: 'acme', token: TOKEN, rateLimit: { requests: 10, perSeconds: 1 } },
      },
      audit: false,
    });
    expect(config.providers.get('atlas')!.rateLimit).toEqual({ requests: 250, perSeconds: 60, burst: 500 });
    expect(config.providers.get('mesa')!.rateLimit).toBe('signals');
    expect(config.providers.get('mine')!.rateLimit).toEqual({ requests: 10, perSeconds: 1, burst: 10 });
  });

  it('refuses a bad rateLimit at start-up naming the path', () => {
    expect(() =>
      resolveConfig({ providers: { m: { kind: 'mesa', org: 'acme', token: TOKEN, rateLimit: { requests: 0, perSeconds: 1 } } }, audit: false }),
    ).toThrow(/providers\.m\.rateLimit\.requests: /);
    expect(() => resolveConfig({ providers: { m: { kind: 'mesa', org: 'acme', token: TOKEN, rateLimit: { requests: 5, per: 1 } } }, audit: false })).toThrow(
      /providers\.m\.rateLimit/,
    );
  });
});

describe('the PostgreSQL bucket store', () => {
  const schema = uniqueSchema('ratelimit');
  let pools: Pool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await dropSchema(schema);
  });

  it('two replicas (two pools) reserving at once share one bucket: exactly `burst` tokens now, the rest spaced by the interval', async () => {
    const url = await testDatabaseUrl();
    const audit = await createPostgresAuditStore(url, schema);
    await audit.close();
    pools = [new Pool({ connectionString: url, max: 4 }), new Pool({ connectionString: url, max: 4 })];
    const stores = pools.map((p) => createPostgresBucketStore(p, `${schema}.rate_limit_bucket`));
    const gcra = gcraOf({ requests: 1, perSeconds: 10, burst: 4 }); // a token every 10 s
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => stores[i % 2].reserve('shared', gcra, 25_000)));
    const reserved = all
      .filter((r) => r.reserved)
      .map((r) => r.waitMs)
      .sort((a, b) => a - b);
    // 4 now, then one per 10 s within the 25 s they may wait: 2 more; the other 6 refused.
    expect(reserved).toHaveLength(6);
    expect(reserved.filter((w) => w === 0)).toHaveLength(4);
    expect(reserved[4]).toBeGreaterThan(5_000);
    expect(reserved[5] - reserved[4]).toBeGreaterThan(5_000);
    expect(all.filter((r) => !r.reserved)).toHaveLength(6);
  });

  it('an unreachable database rejects, so the pacer fails closed', async () => {
    const dead = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    pools.push(dead);
    const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store: createPostgresBucketStore(dead, 'x.rate_limit_bucket') })!;
    await expect(pacer.take(1000)).rejects.toThrow(/rate limit budget unavailable/);
  });
});

describe('pacing end to end', () => {
  let sim: MesaSimulator;
  const gateways: TestGateway[] = [];
  const schema = uniqueSchema('ratelimit_e2e');
  const keys = Array.from({ length: 6 }, (_, i) => demoKey(`key_rl${i}`, `k${i}`, {}));
  beforeAll(async () => {
    sim = await createMesaSimulator({ org: 'acme', tokens: { [TOKEN]: ['admin'] }, keys });
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await sim?.close();
    await dropSchema(schema);
  });
  const start = async (rateLimit: unknown, audit?: unknown) => {
    const gw = await startGateway({
      providers: { mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN, rateLimit, deadlineMs: 2_000 } },
      ...(audit !== undefined && { audit }),
    });
    gateways.push(gw);
    return gw;
  };
  const update = (gw: TestGateway, i: number) => gw.gql(UPDATE, { provider: 'mesa', id: `key_rl${i}`, patch: { setTags: [{ key: 'n', value: String(i) }] } });
  const metric = async (gw: TestGateway, name: string) => {
    const text = await (await fetch(gw.keygate.metricsUrl)).text();
    recordSeen(text);
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('provider="mesa"'));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };

  it('a call past the budget is refused with UPSTREAM_UNAVAILABLE and nothing is sent', async () => {
    sim.reset();
    const gw = await start({ requests: 1, perSeconds: 3600, burst: 2 });
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await update(gw, i));
    expect(results.slice(0, 2).map((r) => r.body.errors)).toEqual([undefined, undefined]);
    expect(results[2].body.errors?.[0].message).toMatch(/^mesa: rate limit budget exhausted .*nothing was sent$/);
    expect(results[2].body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mesa' });
    expect(sim.requests.map((r) => r.path)).toEqual(['/v1/acme/api-keys/key_rl0', '/v1/acme/api-keys/key_rl1']);
    expect(await metric(gw, 'keygate_rate_limit_refused_total')).toBe(1);
    expect(await metric(gw, 'keygate_rate_limit_wait_seconds_count')).toBe(2);
  });

  it('a 429 pauses the whole connection for its Retry-After: the next call is not sent', async () => {
    sim.reset();
    const gw = await start({ requests: 100, perSeconds: 1, burst: 100 });
    sim.inject(faults.rateLimited(60));
    const first = await update(gw, 0);
    expect(first.body.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 60 } });
    const second = await update(gw, 1);
    expect(second.body.errors?.[0].message).toMatch(/rate limit budget exhausted/);
    expect(sim.requests).toHaveLength(1);
    expect(await metric(gw, 'keygate_upstream_rate_limited_total')).toBe(1);
  });

  it('two gateways on one PostgreSQL share one budget', async () => {
    sim.reset();
    const audit = { postgres: await testDatabaseUrl(), schema };
    const a = await start({ requests: 1, perSeconds: 3600, burst: 3 }, audit);
    const b = await start({ requests: 1, perSeconds: 3600, burst: 3 }, audit);
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await update(i % 2 ? b : a, i));
    expect(results.map((r) => r.body.errors?.[0].extensions.code ?? 'OK')).toEqual(['OK', 'OK', 'OK', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
    expect(sim.requests).toHaveLength(3);
  });

  it('a replica that loses the shared bucket store fails closed: UPSTREAM_UNAVAILABLE, nothing sent', async () => {
    sim.reset();
    const lost = uniqueSchema('ratelimit_lost');
    try {
      const gw = await start({ requests: 100, perSeconds: 1, burst: 100 }, { postgres: await testDatabaseUrl(), schema: lost });
      // The bucket table is gone (a stand-in for a store that cannot answer); the audit log still works.
      await sql(`ALTER TABLE ${lost}.rate_limit_bucket RENAME TO rate_limit_bucket_gone`);
      const res = await update(gw, 0);
      expect(res.body.errors?.[0].extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(res.body.errors?.[0].message).toMatch(/rate limit budget unavailable \(the shared rate-limit store cannot be reached\); nothing was sent/);
      expect(sim.requests).toHaveLength(0);
    } finally {
      await dropSchema(lost);
    }
  });
});

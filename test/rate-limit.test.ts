/**
 * Issue 19 part 1: pacing at the vendor's budget. The bucket (GCRA) and the pacer with a fake
 * clock / fake timers; one conformance suite over the memory, PostgreSQL and Redis bucket stores
 * on their own clocks (two replicas sharing one bucket); each shared store failing closed when
 * unreachable, Redis reconnecting; end to end over HTTP: refusals send nothing, a 429 pauses the
 * whole connection, two gateways on one PostgreSQL or one Redis share one budget. Counts and
 * order, never milliseconds.
 */
import { Pool } from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { createPostgresAuditStore } from '../src/audit/postgres.ts';
import { describeConfig } from '../src/config/describe.ts';
import { resolveConfig, type ConfigError, type ConnectionConfig } from '../src/config/schema.ts';
import { bucketScope, createMemoryBucketStore, createPacer, gcraOf, RateLimitRefusal, type BucketStore } from '../src/upstream/rate-limit.ts';
import { createPostgresBucketStore } from '../src/audit/pg-buckets.ts';
import { createRedisBucketStores, REDIS_KEY_PREFIX } from '../src/upstream/redis-buckets.ts';
import { recordSeen, registerSecret, startGateway, until, UPDATE, type TestGateway } from './harness.ts';
import { dropSchema, sql, testDatabaseUrl, uniqueSchema } from './pg.ts';
import { deleteBuckets, startRedisRelay, TEST_REDIS_URL, uniqueRedisScope, withRedis } from './redis.ts';

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

  it('logs a store outage once, not once per refused call, and again for the next outage', async () => {
    let up = false;
    const flaky: BucketStore = {
      shared: true,
      reserve: () => (up ? Promise.resolve({ reserved: true, waitMs: 0 }) : Promise.reject(new Error('connection refused'))),
      pause: () => Promise.resolve(),
    };
    const warned: string[] = [];
    const log = { warn: (_: object, msg: string) => warned.push(msg) };
    const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store: flaky, log })!;
    for (let i = 0; i < 3; i++) await expect(pacer.take(1000)).rejects.toBeInstanceOf(RateLimitRefusal);
    expect(warned).toEqual(['the shared rate-limit store cannot be reached: failing closed']);
    up = true;
    await pacer.take(1000);
    up = false;
    await expect(pacer.take(1000)).rejects.toBeInstanceOf(RateLimitRefusal);
    expect(warned).toHaveLength(2);
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

  it("`rateLimit.store` takes a redis:// or rediss:// URL; alone it keeps the kind's default budget there, which only a kind with one has", () => {
    const problemsOf = (rateLimit: unknown, kind = 'mesa') => {
      const settings =
        kind === 'mesa' ? { org: 'acme', token: TOKEN } : { orgId: '5f1a2b3c4d5e6f7a8b9c0d1e', publicKey: 'abcdefgh', privateKey: 'x-y-z-private-1234' };
      try {
        resolveConfig({ providers: { m: { kind, ...settings, rateLimit } }, audit: false });
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    const allowed = 'must be a redis:// or rediss:// URL: redis://[user:password@]host[:port][/db], no query or fragment';
    for (const store of ['http://127.0.0.1:6379', 'postgres://127.0.0.1/x', 'not a url', 'redis://', 'redis://h:6379/zero', 'redis://h:6379/0?tls=1', 42])
      expect(problemsOf({ requests: 1, perSeconds: 1, store }), String(store)).toEqual([`providers.m.rateLimit.store: ${allowed}`]);
    expect(problemsOf({ store: 'redis://127.0.0.1:6379' })).toEqual([
      'providers.m.rateLimit: requests and perSeconds are required (mesa has no default budget to keep in the store)',
    ]);
    expect(problemsOf({ requests: 5, store: 'redis://127.0.0.1:6379' })).toEqual(['providers.m.rateLimit.perSeconds: required']);
    expect(problemsOf({ burst: 5, store: 'redis://127.0.0.1:6379' })).toEqual([
      'providers.m.rateLimit.requests: required',
      'providers.m.rateLimit.perSeconds: required',
    ]);

    const password = 'p@ss-redis-4242';
    const store = `rediss://keygate:${encodeURIComponent(password)}@redis.internal:6380/2`;
    const config = resolveConfig({
      providers: {
        atlas: { kind: 'atlas', orgId: '5f1a2b3c4d5e6f7a8b9c0d1e', publicKey: 'abcdefgh', privateKey: 'x-y-z-private-1234', rateLimit: { store } },
        mesa: { kind: 'mesa', org: 'acme', token: TOKEN, rateLimit: { requests: 10, perSeconds: 1, store: 'redis://127.0.0.1' } },
      },
      audit: false,
    });
    expect(config.providers.get('atlas')!.rateLimit).toEqual({ requests: 250, perSeconds: 60, burst: 500, store });
    expect(config.providers.get('mesa')!.rateLimit).toEqual({ requests: 10, perSeconds: 1, burst: 10, store: 'redis://127.0.0.1' });
    // The password is a credential: redacted wherever secrets are, and masked by --check-config.
    expect(config.secrets).toEqual(expect.arrayContaining([password, store]));
    const described = describeConfig(config).providers as Record<string, { rateLimit: unknown }>;
    expect(described.atlas.rateLimit).toEqual({ requests: 250, perSeconds: 60, burst: 500, store: 'rediss://keygate:[redacted]@redis.internal:6380/2' });
    expect(JSON.stringify(describeConfig(config))).not.toContain(encodeURIComponent(password));
  });
});

/** Two replicas' views of one store: the same object for memory (not shared), two clients otherwise. */
interface StoreUnderTest {
  name: string;
  open(): Promise<[BucketStore, BucketStore]>;
  /** A scope of this test run (Redis keys are removed by it afterwards). */
  scope(label: string): string;
  close(): Promise<void>;
}

const pgSchema = uniqueSchema('ratelimit');
const redisScopes = uniqueRedisScope('ratelimit');
const storesUnderTest: StoreUnderTest[] = [
  (() => {
    const store = createMemoryBucketStore();
    return { name: 'memory', open: async () => [store, store], scope: (l) => l, close: async () => undefined };
  })(),
  (() => {
    let pools: Pool[] = [];
    return {
      name: 'PostgreSQL',
      async open() {
        const url = await testDatabaseUrl();
        const audit = await createPostgresAuditStore(url, pgSchema);
        await audit.close();
        pools = [new Pool({ connectionString: url, max: 4 }), new Pool({ connectionString: url, max: 4 })];
        return pools.map((p) => createPostgresBucketStore(p, `${pgSchema}.rate_limit_bucket`)) as [BucketStore, BucketStore];
      },
      scope: (l) => l,
      async close() {
        await Promise.all(pools.map((p) => p.end()));
        await dropSchema(pgSchema);
      },
    };
  })(),
  (() => {
    const replicas = [createRedisBucketStores(), createRedisBucketStores()];
    return {
      name: 'Redis',
      open: async () => replicas.map((r) => r.at(TEST_REDIS_URL)) as [BucketStore, BucketStore],
      scope: (l) => `${redisScopes}:${l}`,
      async close() {
        await Promise.all(replicas.map((r) => r.close()));
        await deleteBuckets(redisScopes);
      },
    };
  })(),
];

// The same semantics on every store, on its own clock (the database's, Redis's, this process's):
// waits are checked within wide margins (a token every 10 s), never as measured durations.
describe.each(storesUnderTest)('the $name bucket store', (sut) => {
  let a: BucketStore;
  let b: BucketStore;
  beforeAll(async () => {
    [a, b] = await sut.open();
  });
  afterAll(() => sut.close());
  const tenSeconds = gcraOf({ requests: 1, perSeconds: 10, burst: 3 });
  const within = (ms: number, low: number, high: number) => expect(ms > low && ms <= high, `${ms} in (${low}, ${high}]`).toBe(true);

  it('lets a full burst through at once, then one token per interval, in order; a refusal reserves nothing', async () => {
    const scope = sut.scope('order');
    const waits = [];
    for (let i = 0; i < 5; i++) {
      const r = await (i % 2 ? b : a).reserve(scope, tenSeconds, 60_000);
      expect(r.reserved).toBe(true);
      waits.push(r.waitMs);
    }
    expect(waits.slice(0, 3)).toEqual([0, 0, 0]);
    within(waits[3], 5_000, 10_000);
    within(waits[4], 15_000, 20_000);
    // The next token is ~30 s away: a taker allowed 1 s is refused; one allowed 60 s still gets that same token.
    const refused = await a.reserve(scope, tenSeconds, 1_000);
    expect(refused.reserved).toBe(false);
    within(refused.waitMs, 25_000, 30_000);
    const next = await b.reserve(scope, tenSeconds, 60_000);
    expect(next.reserved).toBe(true);
    within(next.waitMs, 25_000, 30_000);
  });

  it('two replicas reserving at once share one bucket: exactly `burst` tokens now, the rest spaced by the interval', async () => {
    const scope = sut.scope('shared');
    const gcra = gcraOf({ requests: 1, perSeconds: 10, burst: 4 });
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a).reserve(scope, gcra, 25_000)));
    const reserved = all
      .filter((r) => r.reserved)
      .map((r) => r.waitMs)
      .sort((x, y) => x - y);
    // 4 now, then one per 10 s within the 25 s they may wait: 2 more; the other 6 refused.
    expect(reserved).toHaveLength(6);
    expect(reserved.filter((w) => w === 0)).toHaveLength(4);
    expect(reserved[4]).toBeGreaterThan(5_000);
    expect(reserved[5] - reserved[4]).toBeGreaterThan(5_000);
    expect(all.filter((r) => !r.reserved)).toHaveLength(6);
  });

  it('a pause empties the bucket until it is over, a shorter one never shortens it, and other scopes are untouched', async () => {
    const scope = sut.scope('pause');
    const gcra = gcraOf({ requests: 1, perSeconds: 10, burst: 1 });
    await a.pause(scope, gcra, 20_000);
    within((await b.reserve(scope, gcra, 60_000)).waitMs, 15_000, 20_000);
    within((await a.reserve(scope, gcra, 60_000)).waitMs, 25_000, 30_000);
    await b.pause(scope, gcra, 1_000);
    within((await a.reserve(scope, gcra, 60_000)).waitMs, 35_000, 40_000);
    expect(await b.reserve(sut.scope('pause-other'), gcra, 0)).toEqual({ reserved: true, waitMs: 0 });
  });
});

describe('the PostgreSQL bucket store, unreachable', () => {
  it('rejects, so the pacer fails closed', async () => {
    const dead = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/none', connectionTimeoutMillis: 500 });
    try {
      const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store: createPostgresBucketStore(dead, 'x.rate_limit_bucket') })!;
      await expect(pacer.take(1000)).rejects.toThrow(/rate limit budget unavailable/);
    } finally {
      await dead.end();
    }
  });
});

describe('the Redis bucket store', () => {
  const scopes = uniqueRedisScope('redis');
  const stores = createRedisBucketStores();
  afterAll(async () => {
    await stores.close();
    await deleteBuckets(scopes);
  });

  it('calls made while the first connection is being made wait for it instead of failing', async () => {
    const fresh = createRedisBucketStores();
    try {
      const store = fresh.at(TEST_REDIS_URL); // connecting: it cannot be ready before the calls below
      const gcra = gcraOf({ requests: 1, perSeconds: 10, burst: 5 });
      const all = await Promise.all(Array.from({ length: 5 }, () => store.reserve(`${scopes}:first`, gcra, 0)));
      expect(all).toEqual(Array.from({ length: 5 }, () => ({ reserved: true, waitMs: 0 })));
    } finally {
      await fresh.close();
    }
  });

  it('keeps a bucket at keygate:rate-limit:<scope>, expiring once it is full again', async () => {
    const scope = `${scopes}:ttl`;
    const store = stores.at(TEST_REDIS_URL);
    const gcra = gcraOf({ requests: 1, perSeconds: 10, burst: 3 });
    await store.reserve(scope, gcra, 0);
    const ttl = () => withRedis((r) => r.pttl(`keygate:rate-limit:${scope}`));
    const first = await ttl();
    expect(first > 5_000 && first <= 10_000, `${first}`).toBe(true);
    for (let i = 0; i < 3; i++) await store.reserve(scope, gcra, 60_000);
    const later = await ttl();
    expect(later > 35_000 && later <= 40_000, `${later}`).toBe(true);
  });

  it('an unreachable Redis rejects at once, the pacer fails closed, and the outage is logged once without the password', async () => {
    const password = 'redis-pw-9f8e7d6c';
    const lines: string[] = [];
    const log = { warn: (obj: object, msg: string) => lines.push(JSON.stringify({ ...obj, msg })) };
    const dead = createRedisBucketStores(log);
    try {
      const store = dead.at(`redis://:${password}@127.0.0.1:1`);
      const pacer = createPacer(connection({ requests: 1, perSeconds: 1, burst: 1 }), { store, log })!;
      for (let i = 0; i < 3; i++) {
        const err = await pacer.take(1000).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(RateLimitRefusal);
        expect((err as Error).message).toMatch(/rate limit budget unavailable \(the shared rate-limit store cannot be reached\); nothing was sent/);
      }
      await expect(store.pause('x', gcraOf({ requests: 1, perSeconds: 1, burst: 1 }), 1000)).rejects.toThrow();
      const outage = lines.filter((l) => l.includes('the Redis rate-limit store cannot be reached'));
      expect(outage).toHaveLength(1);
      expect(outage[0]).toContain('"store":"redis://:[redacted]@127.0.0.1:1"');
      expect(lines.join('\n')).not.toContain(password);
    } finally {
      await dead.close();
    }
  });

  it('reconnects in the background: a Redis that goes away fails closed, and serves again once back', async () => {
    const relay = await startRedisRelay();
    const lines: string[] = [];
    const log = { warn: (_: object, msg: string) => lines.push(`warn ${msg}`), info: (_: object, msg: string) => lines.push(`info ${msg}`) };
    const relayed = createRedisBucketStores(log);
    const store = relayed.at(relay.url);
    const gcra = gcraOf({ requests: 1, perSeconds: 1, burst: 1000 });
    const scope = `${scopes}:relay`;
    try {
      expect((await store.reserve(scope, gcra, 0)).reserved).toBe(true);
      await relay.cut();
      await expect(store.reserve(scope, gcra, 0)).rejects.toThrow();
      await until(() => lines.some((l) => l.startsWith('warn')), { what: 'the outage to be logged' });
      await relay.restore();
      await until(
        () =>
          store.reserve(scope, gcra, 0).then(
            (r) => r.reserved,
            () => false,
          ),
        { what: 'the store to serve again' },
      );
      expect(lines).toEqual([
        'warn the Redis rate-limit store cannot be reached: calls paced by it fail closed until it is back',
        'info the Redis rate-limit store is reachable again',
      ]);
    } finally {
      await relayed.close();
      await relay.close();
    }
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

  describe('with the buckets in Redis (`rateLimit.store`)', () => {
    // A token of this run only, so the bucket (named by kind, base URL and credential) is this test's.
    const token = `mesa_redis_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    registerSecret(token);
    let redisSim: MesaSimulator;
    let bucketKey: string | undefined;
    beforeAll(async () => {
      redisSim = await createMesaSimulator({ org: 'acme', tokens: { [token]: ['admin'] }, keys });
    });
    afterAll(async () => {
      await redisSim?.close();
      if (bucketKey) await withRedis((r) => r.del(bucketKey!));
    });
    /** A gateway on `redisSim` with this rateLimit (each test empties `bucketKey` before its first update). */
    const startOnRedis = async (rateLimit: Record<string, unknown>) => {
      const gw = await startGateway({
        providers: { mesa: { kind: 'mesa', baseUrl: redisSim.baseUrl, org: 'acme', token, rateLimit, deadlineMs: 2_000 } },
      });
      gateways.push(gw);
      bucketKey = `${REDIS_KEY_PREFIX}${bucketScope(gw.keygate.gateway.connections().get('mesa')!)}`;
      return gw;
    };

    it('two gateways naming one Redis share one budget: the 4th update, on either, is refused and never sent', async () => {
      redisSim.reset();
      const rateLimit = { requests: 1, perSeconds: 3600, burst: 3, store: TEST_REDIS_URL };
      // Each with its own SQLite audit file: only Redis is shared between them.
      const a = await startOnRedis(rateLimit);
      const b = await startOnRedis(rateLimit);
      await withRedis((r) => r.del(bucketKey!));
      const results = [];
      for (let i = 0; i < 5; i++) results.push(await update(i % 2 ? b : a, i));
      expect(results.map((r) => r.body.errors?.[0].extensions.code ?? 'OK')).toEqual(['OK', 'OK', 'OK', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE']);
      for (const r of results.slice(3)) expect(r.body.errors?.[0].message).toMatch(/^mesa: rate limit budget exhausted .*nothing was sent$/);
      expect(redisSim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([0, 1, 2].map((i) => `PATCH /v1/acme/api-keys/key_rl${i}`));
      expect(await withRedis((r) => r.pttl(bucketKey!))).toBeGreaterThan(0);
    });

    it('a config reload keeps the budget spent; closing the old connections leaves the shared Redis client open', async () => {
      redisSim.reset();
      const doc = {
        providers: {
          mesa: {
            kind: 'mesa',
            baseUrl: redisSim.baseUrl,
            org: 'acme',
            token,
            rateLimit: { requests: 1, perSeconds: 3600, burst: 4, store: TEST_REDIS_URL },
            deadlineMs: 2_000,
          },
        },
      };
      const gw = await startOnRedis(doc.providers.mesa.rateLimit);
      await withRedis((r) => r.del(bucketKey!));
      expect((await update(gw, 0)).body.errors).toBeUndefined();
      // The previous connections are closed at once (no request in flight); the Redis client must outlive them.
      await gw.keygate.gateway.reload(resolveConfig({ ...doc, audit: false }));
      expect((await update(gw, 1)).body.errors).toBeUndefined();
      expect((await update(gw, 2)).body.errors).toBeUndefined();
      expect((await update(gw, 3)).body.errors).toBeUndefined();
      expect((await update(gw, 4)).body.errors?.[0].message).toMatch(/rate limit budget exhausted/);
      expect(redisSim.requests).toHaveLength(4);
    });

    it('shutting the gateway down closes its Redis connection', async () => {
      redisSim.reset();
      const relay = await startRedisRelay();
      try {
        const gw = await startOnRedis({ requests: 100, perSeconds: 1, store: relay.url });
        await withRedis((r) => r.del(bucketKey!));
        expect((await update(gw, 0)).body.errors).toBeUndefined();
        expect(relay.open()).toBe(1);
        gateways.splice(gateways.indexOf(gw), 1);
        await gw.close();
        await until(() => relay.open() === 0, { what: 'the Redis connection to close' });
      } finally {
        await relay.close();
      }
    });

    it('an unreachable Redis fails closed: UPSTREAM_UNAVAILABLE, nothing sent, its password nowhere; the gateway keeps serving', async () => {
      redisSim.reset();
      const password = `redis-pw-${Math.random().toString(36).slice(2, 10)}`;
      const gw = await startOnRedis({ requests: 100, perSeconds: 1, store: `redis://keygate:${password}@127.0.0.1:1/0` });
      for (let i = 0; i < 2; i++) {
        const res = await update(gw, i);
        expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'mesa' });
        expect(res.body.errors?.[0].message).toBe('mesa: rate limit budget unavailable (the shared rate-limit store cannot be reached); nothing was sent');
        expect(res.text).not.toContain(password);
      }
      expect(redisSim.requests).toHaveLength(0);
      expect((await gw.fetch('/health')).status).toBe(200);
      const outage = gw.logs.filter((l) => l.includes('the Redis rate-limit store cannot be reached'));
      expect(outage).toHaveLength(1);
      expect(outage[0]).toContain('redis://keygate:[redacted]@127.0.0.1:1/0');
      expect(gw.logs.join('')).not.toContain(password);
    });
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

/**
 * Issue 4: deadlines, safe retries that honour Retry-After, circuit breakers, bulkheads and response
 * limits — for each fault the GraphQL outcome, the upstream attempts the simulator saw, and a bound
 * on how long the caller waited. Timeouts and delays are small, bounds generous.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AtlasSimulator } from '../providers/atlas/simulator.ts';
import { createMesaSimulator, demoKey } from '../providers/mesa/simulator.ts';
import { createTykSimulator, demoSession } from '../providers/tyk/simulator.ts';
import { providers } from '../providers/index.ts';
import { faults, type RecordedRequest } from '../sandbox/simulator-kit.ts';
import type { ApiKeyPatch, BuiltinKind, Sandbox } from '../providers/types.ts';
import { createAuditStore } from '../src/audit/store.ts';
import { resolveConfig } from '../src/config/schema.ts';
import { GatewayError } from '../src/core/errors.ts';
import { createResilience } from '../src/upstream/resilience.ts';
import { recordSeen, registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';
import { dropSchema, testDatabaseUrl, uniqueSchema } from './pg.ts';

/** The method of each vendor's update call: faults aimed at it, attempts counted by it. */
const WRITE_METHOD: Partial<Record<BuiltinKind, string>> = {
  mesa: 'PATCH',
  basic: 'PATCH',
  atlas: 'PATCH',
  tyk: 'PUT',
  plumaa: 'PUT',
  sendgrid: 'PATCH',
  cloudflare: 'PUT',
};

/**
 * The vendors run here: every hand-written adapter, and two of those on the declarative engine,
 * which share one code path — a PATCH (SendGrid) and a read-modify-write PUT (Cloudflare). The
 * others (Datadog, Confluent: PATCH; Algolia: read-modify-write PUT) would add time, not paths.
 */
const KINDS = Object.keys(WRITE_METHOD) as BuiltinKind[];

function validPatch(kind: BuiltinKind): ApiKeyPatch {
  return providers[kind].adapter.patchFields.includes('name') ? { name: 'resilience test' } : { setTags: [{ key: 'resilience', value: 'yes' }] };
}

/** Upstream attempts of the update call the simulator saw (an Atlas Digest challenge is not one). */
const attemptsSeen = (requests: RecordedRequest[], kind: BuiltinKind) => requests.filter((r) => r.method === WRITE_METHOD[kind] && r.status !== 401).length;

async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function startSandboxes(): Promise<Map<BuiltinKind, Sandbox>> {
  const sandboxes = new Map<BuiltinKind, Sandbox>();
  for (const kind of KINDS) {
    const s = await providers[kind].startSandbox();
    for (const [field, value] of Object.entries(s.connection)) if (providers[kind].adapter.secretConfigFields.includes(field)) registerSecret(String(value));
    sandboxes.set(kind, s);
  }
  return sandboxes;
}

let sandboxes: Map<BuiltinKind, Sandbox>;
let gw: TestGateway;

/** Per kind: `<kind>` retries fast; `<kind>-patient` may wait out a Retry-After of 1 s; `<kind>-tight` has a short deadline. */
const CONNECTIONS = {
  '': { timeoutMs: 150, deadlineMs: 2_000, retry: { attempts: 3, maxDelayMs: 20 }, circuitBreaker: { failures: 1000, cooldownMs: 1000 } },
  '-patient': { timeoutMs: 150, deadlineMs: 3_000, retry: { attempts: 3, maxDelayMs: 2_000 }, circuitBreaker: { failures: 1000, cooldownMs: 1000 } },
  '-tight': { timeoutMs: 150, deadlineMs: 280, retry: { attempts: 5, maxDelayMs: 5_000 }, circuitBreaker: { failures: 1000, cooldownMs: 1000 } },
};

beforeAll(async () => {
  sandboxes = await startSandboxes();
  const doc: Record<string, Record<string, unknown>> = {};
  for (const [kind, s] of sandboxes)
    for (const [suffix, options] of Object.entries(CONNECTIONS)) doc[`${kind}${suffix}`] = { kind, ...s.connection, ...options };
  gw = await startGateway({ providers: doc });
  // Atlas: complete the Digest handshake once, so each later attempt is one request.
  for (const kind of KINDS) await update(kind, kind);
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([...(sandboxes?.values() ?? [])].map((s) => s.simulator.close()));
});
/** Between tests of the sequential suites below (the per-vendor suites reset only their own simulator). */
const resetAll = () => {
  for (const s of sandboxes.values()) s.simulator.reset();
};

async function update(provider: string, kind: BuiltinKind, on: TestGateway = gw) {
  const id = sandboxes.get(kind)!.demoKeyIds[0];
  const started = performance.now();
  const res = await on.gql(UPDATE, { provider, id, patch: validPatch(kind) });
  return { body: res.body, error: res.body.errors?.[0], ms: performance.now() - started };
}

// The vendors' suites run side by side (each against its own simulator); within one, tests run in turn.
const inTurn = { concurrent: false };

describe.each(KINDS)('%s under faults', { concurrent: true }, (kind) => {
  const sim = () => sandboxes.get(kind)!.simulator;
  const method = WRITE_METHOD[kind];
  const seen = () => attemptsSeen(sim().requests, kind);
  beforeEach(() => sim().reset());

  it('retries 503 twice, then succeeds on the third attempt with one write', inTurn, async () => {
    sim().inject(faults.unavailable({ method, times: 2 }));
    const { body, ms } = await update(kind, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(3);
    expect(sim().writes()).toHaveLength(1);
    expect(ms).toBeLessThan(2_000);
  });

  it('retries an HTML 502 page up to retry.attempts, then answers UPSTREAM_ERROR with upstream.attempts', inTurn, async () => {
    sim().inject(faults.html502({ method, times: 3 }));
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: kind, upstream: { status: 502, message: '502 Bad Gateway', attempts: 3 } });
    expect(seen()).toBe(3);
    expect(ms).toBeLessThan(2_000);
  });

  it('retries a reset connection and succeeds', inTurn, async () => {
    sim().inject(faults.reset({ method }));
    const { body, ms } = await update(kind, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(2);
    expect(ms).toBeLessThan(2_000);
  });

  it('retries timeouts, then answers UPSTREAM_UNAVAILABLE with extensions.attempts (the vendor never answered)', inTurn, async () => {
    sim().inject(faults.hang({ method, times: 3 }));
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: kind, attempts: 3 });
    expect(error?.extensions.upstream).toBeUndefined();
    expect(error?.message).toContain('150 ms');
    expect(seen()).toBe(3);
    expect(ms).toBeGreaterThanOrEqual(3 * 150 - 10);
    expect(ms).toBeLessThan(2_000);
  });

  it('answers a delay shorter than timeoutMs normally, in one attempt', inTurn, async () => {
    sim().inject(faults.delay(80, { method }));
    const { body, ms } = await update(kind, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(75);
    expect(ms).toBeLessThan(1_500);
  });

  it.each([400, 404, 409, 500])('never retries a %i', inTurn, async (status) => {
    sim().inject({ method, times: 3, response: { status } });
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions.upstream).toMatchObject({ status, attempts: 1 });
    expect(seen()).toBe(1);
    expect(ms).toBeLessThan(1_000);
  });

  it('waits out a short Retry-After on 429, then retries and succeeds', inTurn, async () => {
    sim().inject(faults.rateLimited(1, { method }));
    const { body, ms } = await update(`${kind}-patient`, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(2_500);
  });

  it('waits out a short Retry-After on 503 too', inTurn, async () => {
    sim().inject(faults.unavailable({ method, retryAfter: 1 }));
    const { body, ms } = await update(`${kind}-patient`, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(950);
    expect(ms).toBeLessThan(2_500);
  });

  it('answers RATE_LIMITED with retryAfter at once when Retry-After is longer than maxDelayMs', inTurn, async () => {
    sim().inject(faults.rateLimited(30, { method, times: 3 }));
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 30, attempts: 1 } });
    expect(seen()).toBe(1);
    expect(ms).toBeLessThan(500);
  });

  it('answers RATE_LIMITED at once when Retry-After (an HTTP date) is longer than what is left of the deadline', inTurn, async () => {
    // -tight: maxDelayMs 5 s would allow the wait, its 280 ms deadline does not.
    sim().inject(faults.rateLimited(new Date(Date.now() + 3_000), { method, times: 3 }));
    const { error, ms } = await update(`${kind}-tight`, kind);
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, attempts: 1 } });
    expect(error?.extensions.upstream.retryAfter).toBeGreaterThanOrEqual(2);
    expect(error?.extensions.upstream.retryAfter).toBeLessThanOrEqual(4);
    expect(seen()).toBe(1);
    expect(ms).toBeLessThan(500);
  });

  it('stops at the deadline: attempts and waits together never outlast deadlineMs', inTurn, async () => {
    // -tight: 5 attempts of 150 ms would take 750 ms; the 280 ms deadline cuts the second one
    // (the first backoff is under 100 ms, so the second always starts, and always outlasts it).
    sim().inject(faults.hang({ method, times: 5 }));
    const { error, ms } = await update(`${kind}-tight`, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 2 });
    expect(error?.message).toContain('deadline of 280 ms');
    expect(seen()).toBe(2);
    expect(ms).toBeGreaterThanOrEqual(270);
    expect(ms).toBeLessThan(800);
  });

  it('answers truncated JSON with UPSTREAM_BAD_RESPONSE, without retrying', inTurn, async () => {
    sim().inject(faults.truncatedJson({ method }));
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { status: 200, attempts: 1 } });
    expect(seen()).toBe(1);
    expect(ms).toBeLessThan(1_000);
  });

  it('refuses a body over 1 MiB without reading it all: UPSTREAM_BAD_RESPONSE, and the connection is dropped early', inTurn, async () => {
    sim().inject(faults.oversize(256 * 1024 * 1024, { method }));
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { attempts: 1 } });
    expect(error?.message).toContain('size limit');
    expect(seen()).toBe(1);
    // 256 MiB were offered; keygate hung up after about 1 MiB, long before the end.
    await until(() => sim().requests.some((r) => r.aborted), 'the simulator to see the connection dropped');
    expect(ms).toBeLessThan(2_000);
  });

  it('refuses a body that announces over 1 MiB in Content-Length the same way, naming the status it came with', inTurn, async () => {
    sim().inject(faults.oversize(256 * 1024 * 1024, { method, declared: true, status: 400 }));
    const { error, ms } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { status: 400, attempts: 1 } });
    expect(error?.message).toContain('answered HTTP 400 with a body over the size limit');
    expect(seen()).toBe(1);
    await until(() => sim().requests.some((r) => r.aborted), 'the simulator to see the connection dropped');
    expect(ms).toBeLessThan(2_000);
  });

  it('never follows a redirect, and does not retry it', inTurn, async () => {
    let followed = 0;
    const elsewhere: Server = createServer((_req, res) => {
      followed += 1;
      res.end('{}');
    });
    await new Promise<void>((r) => elsewhere.listen(0, '127.0.0.1', r));
    sim().inject(faults.redirect(`http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}/steal`, { method, times: 3 }));
    const { error } = await update(kind, kind);
    await new Promise<void>((r) => elsewhere.close(() => r()));
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { status: 307, attempts: 1 } });
    expect(followed).toBe(0);
    expect(seen()).toBe(1);
  });
});

describe('vendor specifics', () => {
  beforeEach(resetAll);

  it('Atlas: a 401 stale=true is re-answered inside one attempt, not counted as one', async () => {
    const atlas = sandboxes.get('atlas')!.simulator as AtlasSimulator;
    atlas.expireNonces();
    // The first PATCH (stale nonce) goes through to the 401; the next three get 503.
    atlas.inject(faults.unavailable({ method: 'PATCH', skip: 1, times: 3 }));
    const { error } = await update('atlas', 'atlas');
    expect(atlas.requests.map((r) => r.status)).toEqual([401, 503, 503, 503]);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503, attempts: 3 } });
  });

  it('Atlas: after a stale nonce the update succeeds with one re-challenge', async () => {
    const atlas = sandboxes.get('atlas')!.simulator as AtlasSimulator;
    atlas.expireNonces();
    const { body } = await update('atlas', 'atlas');
    expect(body.errors).toBeUndefined();
    expect(atlas.requests.map((r) => r.status)).toEqual([401, 200]);
  });

  it('Tyk: a retry repeats the whole read-modify-write', async () => {
    const tyk = sandboxes.get('tyk')!.simulator;
    tyk.inject(faults.unavailable({ method: 'PUT' }));
    const { body } = await update('tyk', 'tyk');
    expect(body.errors).toBeUndefined();
    expect(tyk.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET 200', 'PUT 503', 'GET 200', 'PUT 200']);
  });

  it('Tyk: a failed read is retried as well', async () => {
    const tyk = sandboxes.get('tyk')!.simulator;
    tyk.inject(faults.reset({ method: 'GET' }));
    const { body } = await update('tyk', 'tyk');
    expect(body.errors).toBeUndefined();
    expect(tyk.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['GET undefined', 'GET 200', 'PUT 200']);
  });
});

const HEALTH = '{ providers { name health { state consecutiveFailures } } }';

describe('circuit breaker', () => {
  beforeEach(resetAll);
  let breakerGw: TestGateway;
  const mesa = () => sandboxes.get('mesa')!.simulator;
  const health = async (name: string) => {
    const res = await breakerGw.gql(HEALTH);
    return (res.body.data!.providers as { name: string; health: { state: string; consecutiveFailures: number } }[]).find((p) => p.name === name)!.health;
  };

  beforeAll(async () => {
    const connection = sandboxes.get('mesa')!.connection;
    const options = { timeoutMs: 150, deadlineMs: 1_000, retry: { attempts: 1, maxDelayMs: 0 }, circuitBreaker: { failures: 3, cooldownMs: 400 } };
    breakerGw = await startGateway({
      providers: Object.fromEntries(['opens', 'counts', 'reopens', 'retrying'].map((name) => [name, { kind: 'mesa', ...connection, ...options }])),
    });
  });
  afterAll(async () => {
    await breakerGw?.close();
  });

  it('opens after `failures` consecutive vendor faults (5xx, reset, timeout), fails fast with retryAfter, then one probe closes it', async () => {
    expect(await health('opens')).toEqual({ state: 'CLOSED', consecutiveFailures: 0 });
    mesa().inject(faults.unavailable());
    mesa().inject(faults.reset());
    mesa().inject(faults.hang());
    for (const code of ['UPSTREAM_ERROR', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_UNAVAILABLE'])
      expect((await update('opens', 'mesa', breakerGw)).error?.extensions.code).toBe(code);
    expect(await health('opens')).toEqual({ state: 'OPEN', consecutiveFailures: 3 });

    const before = mesa().requests.length;
    const fast = await update('opens', 'mesa', breakerGw);
    expect(fast.error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'opens', retryAfter: 1, attempts: 0 });
    expect(fast.error?.message).toContain('circuit open');
    expect(fast.ms).toBeLessThan(200);
    expect(mesa().requests.length).toBe(before); // the vendor was not called

    await until(async () => (await health('opens')).state === 'HALF_OPEN', 'the cooldown to end');
    // Half-open: of three concurrent calls exactly one goes through (slowed, so the others see it in flight).
    mesa().inject(faults.delay(100));
    const results = await Promise.all([1, 2, 3].map(() => update('opens', 'mesa', breakerGw)));
    expect(results.filter((r) => r.body.errors === undefined)).toHaveLength(1);
    for (const r of results.filter((r) => r.error)) expect(r.error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    expect(mesa().requests.length).toBe(before + 1);
    expect(await health('opens')).toEqual({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  it('does not count 4xx answers: any answer that is not a vendor fault resets the count', async () => {
    mesa().inject(faults.unavailable({ times: 2 }));
    await update('counts', 'mesa', breakerGw);
    await update('counts', 'mesa', breakerGw);
    expect(await health('counts')).toEqual({ state: 'CLOSED', consecutiveFailures: 2 });
    for (const status of [400, 404, 409, 429]) {
      mesa().inject({ response: { status } });
      await update('counts', 'mesa', breakerGw);
    }
    expect(await health('counts')).toEqual({ state: 'CLOSED', consecutiveFailures: 0 });
    mesa().inject(faults.unavailable({ times: 2 }));
    await update('counts', 'mesa', breakerGw);
    await update('counts', 'mesa', breakerGw);
    expect(await health('counts')).toEqual({ state: 'CLOSED', consecutiveFailures: 2 });
  });

  it('opens again for another cooldown when the probe fails', async () => {
    mesa().inject(faults.unavailable({ times: 4 }));
    for (let i = 0; i < 3; i++) await update('reopens', 'mesa', breakerGw);
    expect((await health('reopens')).state).toBe('OPEN');
    await until(async () => (await health('reopens')).state === 'HALF_OPEN', 'the cooldown to end');
    const probe = await update('reopens', 'mesa', breakerGw);
    expect(probe.error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503, attempts: 1 } });
    expect(await health('reopens')).toEqual({ state: 'OPEN', consecutiveFailures: 4 });
    expect((await update('reopens', 'mesa', breakerGw)).error?.message).toContain('circuit open');
  });
});

describe('breaker and retries together', () => {
  beforeEach(resetAll);
  it('stops retrying when the breaker opens mid-call and answers the last vendor error', async () => {
    const connection = sandboxes.get('basic')!.connection;
    const g = await startGateway({
      providers: { b: { kind: 'basic', ...connection, retry: { attempts: 5, maxDelayMs: 10 }, circuitBreaker: { failures: 2, cooldownMs: 10_000 } } },
    });
    try {
      const basic = sandboxes.get('basic')!.simulator;
      basic.inject(faults.html502({ times: 5 }));
      const { error } = await update('b', 'basic', g);
      expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 502, attempts: 2 } });
      expect(attemptsSeen(basic.requests, 'basic')).toBe(2);
    } finally {
      await g.close();
    }
  });
});

describe('bulkhead', () => {
  beforeEach(resetAll);
  it('runs at most maxConcurrency calls at once; the others wait their turn and succeed', async () => {
    const connection = sandboxes.get('plumaa')!.connection;
    const g = await startGateway({ providers: { p: { kind: 'plumaa', ...connection, maxConcurrency: 2, deadlineMs: 3_000 } } });
    try {
      const plumaa = sandboxes.get('plumaa')!.simulator;
      plumaa.inject(faults.delay(80, { times: 6 }));
      const started = performance.now();
      const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => update('p', 'plumaa', g)));
      const ms = performance.now() - started;
      for (const r of results) expect(r.body.errors).toBeUndefined();
      expect(plumaa.maxInFlight()).toBe(2);
      expect(ms).toBeGreaterThanOrEqual(3 * 80 - 10);
      expect(ms).toBeLessThan(2_500);
    } finally {
      await g.close();
    }
  });

  it('refuses at once with UPSTREAM_UNAVAILABLE "too many concurrent calls" when the queue is full', async () => {
    const connection = sandboxes.get('basic')!.connection;
    // One slot, so 4 may wait. The first call hangs for one 150 ms attempt, then succeeds on its retry.
    const g = await startGateway({
      providers: { one: { kind: 'basic', ...connection, maxConcurrency: 1, timeoutMs: 150, deadlineMs: 3_000, retry: { attempts: 2, maxDelayMs: 10 } } },
    });
    try {
      const basic = sandboxes.get('basic')!.simulator;
      basic.inject(faults.hang());
      const first = update('one', 'basic', g);
      await until(() => basic.requests.length === 1, 'the first call to reach the vendor');
      const rest = await Promise.all([1, 2, 3, 4, 5].map(() => update('one', 'basic', g)));
      const refused = rest.filter((r) => r.error);
      expect(refused).toHaveLength(1);
      expect(refused[0].error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'one', attempts: 0 });
      expect(refused[0].error?.message).toContain('too many concurrent calls');
      expect(refused[0].ms).toBeLessThan(250);
      expect((await first).body.errors).toBeUndefined();
      expect(basic.maxInFlight()).toBe(1);
      expect(basic.requests).toHaveLength(6); // 2 attempts of the first, 4 queued calls, none of the refused
    } finally {
      await g.close();
    }
  });

  it('fails a call that gets no turn before its deadline with "too many concurrent calls"', async () => {
    const config = resolveConfig({
      providers: { m: { kind: 'mesa', ...sandboxes.get('mesa')!.connection, maxConcurrency: 1, deadlineMs: 100, timeoutMs: 100 } },
    });
    const resilience = createResilience(config.providers.get('m')!);
    // An attempt that ignores its signal holds the only slot past the second call's deadline.
    const holder = resilience.execute(() => new Promise((r) => setTimeout(r, 400)));
    const started = performance.now();
    const waiter = await resilience.execute(async () => 'ran').catch((err: unknown) => err);
    expect(waiter).toBeInstanceOf(GatewayError);
    expect((waiter as GatewayError).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    expect((waiter as GatewayError).message).toContain('too many concurrent calls');
    expect((waiter as GatewayError).message).toContain('before the deadline');
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    expect(performance.now() - started).toBeLessThan(350); // long before the holder lets go
    await holder;
  });
});

describe('keep-alive pools', () => {
  beforeEach(resetAll);

  it('reuses one socket for calls in sequence and closes it when keygate closes', async () => {
    const own = await providers.basic.startSandbox();
    const g = await startGateway({ providers: { k: { kind: 'basic', ...own.connection } } });
    try {
      for (let i = 0; i < 5; i++) {
        const res = await g.gql(UPDATE, { provider: 'k', id: own.demoKeyIds[0], patch: validPatch('basic') });
        expect(res.body.errors).toBeUndefined();
      }
      expect(own.simulator.requests).toHaveLength(5);
      expect(own.simulator.openSockets()).toBe(1);
      await g.close();
      await until(() => own.simulator.openSockets() === 0, 'the pool to close its socket', 1_000);
    } finally {
      await own.simulator.close();
    }
  });
});

describe('backoff', () => {
  it('waits random(0, min(maxDelayMs, 100 ms × 2^(n-1))) between attempts: exponential, capped, fully jittered', async () => {
    const gaps = async (random: number) => {
      const config = resolveConfig({
        providers: {
          m: { kind: 'mesa', ...sandboxes.get('mesa')!.connection, retry: { attempts: 4, maxDelayMs: 250 }, circuitBreaker: { failures: 100, cooldownMs: 1 } },
        },
      });
      const resilience = createResilience(config.providers.get('m')!, { random: () => random });
      const at: number[] = [];
      await resilience
        .execute(async () => {
          at.push(performance.now());
          throw new GatewayError('m: down', { code: 'UPSTREAM_UNAVAILABLE', provider: 'm' });
        })
        .catch(() => {});
      return at.slice(1).map((t, i) => t - at[i]);
    };
    const full = await gaps(1);
    expect(full).toHaveLength(3);
    [100, 200, 250].forEach((expected, i) => {
      expect(full[i]).toBeGreaterThanOrEqual(expected - 5);
      expect(full[i]).toBeLessThan(expected + 140); // 250 + 140 < 400: the cap holds
    });
    const none = await gaps(0);
    for (const gap of none) expect(gap).toBeLessThan(40);
  });
});

describe('the sandbox fault API over HTTP', () => {
  beforeEach(resetAll);
  it('queues posted faults, lists requests, clears faults and runs simulator controls', async () => {
    const mesa = sandboxes.get('mesa')!.simulator;
    const post = (path: string, body?: unknown, method = 'POST') =>
      fetch(`${mesa.origin}/__sim/${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    expect((await post('faults', { response: { status: 503 }, times: 3 })).status).toBe(204);
    const { error } = await update('mesa', 'mesa');
    expect(error?.extensions).toMatchObject({ upstream: { status: 503, attempts: 3 } });
    const listed = await (await fetch(`${mesa.origin}/__sim/requests`)).json();
    expect(listed).toEqual([1, 2, 3].map(() => ({ method: 'PATCH', path: expect.any(String), status: 503 })));
    expect((await post('faults', [{ hang: true }, { delayMs: 5 }])).status).toBe(204);
    expect((await post('faults', undefined, 'DELETE')).status).toBe(204);
    expect((await update('mesa', 'mesa')).body.errors).toBeUndefined();
    expect((await post('faults', { explode: true })).status).toBe(400);
    expect((await post('faults', { times: 'twice' })).status).toBe(400);
    expect((await post('nope')).status).toBe(404);
    const atlas = sandboxes.get('atlas')!.simulator;
    expect((await fetch(`${atlas.origin}/__sim/expire-nonces`, { method: 'POST' })).status).toBe(204);
    atlas.reset();
    expect((await update('atlas', 'atlas')).body.errors).toBeUndefined();
    expect(atlas.requests.map((r) => r.status)).toEqual([401, 200]);
    // Control calls are never recorded as vendor requests.
    expect(mesa.requests.every((r) => !r.path.startsWith('/__sim'))).toBe(true);
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the call in flight, closes the pools and exits 0', async () => {
    const child = spawn(process.execPath, ['src/main.ts', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'warn' } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    try {
      await until(() => out.includes('Run with --config'), 'the sandbox banner', 15_000);
      const url = /GraphiQL at (http:\/\/\S+)/.exec(out)![1];
      const lines = out.split('\n');
      const mesaAt = lines.findIndex((l) => l.startsWith('  mesa '));
      const example = lines[mesaAt + 1].trim();
      const faultsUrl = /faults: POST (\S+)/.exec(lines[mesaAt + 2])![1];
      const simOrigin = faultsUrl.replace(/\/__sim\/faults$/, '');

      // A slow vendor: the call will be in flight when SIGTERM comes.
      expect((await fetch(faultsUrl, { method: 'POST', body: JSON.stringify({ delayMs: 700 }) })).status).toBe(204);
      const inFlight = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: example }) }).then((r) =>
        r.text(),
      );
      await until(async () => (await (await fetch(`${simOrigin}/__sim/requests`)).json()).length === 1, 'the call to reach the vendor');
      const signalled = performance.now();
      child.kill('SIGTERM');

      // Stops accepting: a new connection is refused while the call is still in flight.
      const port = Number(new URL(url).port);
      await until(
        () =>
          new Promise<boolean>((resolve) => {
            const socket = connect(port, '127.0.0.1');
            socket.once('connect', () => {
              socket.destroy();
              resolve(false);
            });
            socket.once('error', () => resolve(true));
          }),
        'new connections to be refused',
        600,
      );

      const text = await inFlight;
      const answered = performance.now();
      recordSeen(text);
      const body = JSON.parse(text);
      expect(body.errors).toBeUndefined();
      expect(body.data.updateApiKey.id).toBeTruthy();
      expect(await exited).toBe(0);
      // Exit follows the last answer closely: its keep-alive connection does not hold the close.
      expect(performance.now() - answered).toBeLessThan(1_000);
      expect(performance.now() - signalled).toBeLessThan(2_500);
    } finally {
      child.kill('SIGKILL');
    }
  });

  // Tyk with PostgreSQL: the cut call holds the key's advisory lock, which closing the store waits for.
  it.each(['mesa with the SQLite audit', 'tyk with the PostgreSQL audit'])(
    'after `server.shutdownGraceMs` drops a call still in flight, says so, and leaves its audit entry PENDING (%s)',
    async (setup) => {
      const tyk = setup.startsWith('tyk');
      const secret = tyk ? 'tyk_shutdown_admin_secret_9e8f7a' : 'mesa_shutdown_token_5a6b7c8d';
      registerSecret(secret);
      const keyId = tyk ? '5e9d9544a1dcd60001d0ed20ffffeeee000011112222333344445555' : 'key_sd';
      const sim = tyk
        ? await createTykSimulator({ adminSecret: secret, keys: { [keyId]: demoSession('sd', ['base']) } })
        : await createMesaSimulator({ org: 'acme', tokens: { [secret]: ['admin'] }, keys: [demoKey(keyId, 'sd', {})] });
      const schema = uniqueSchema('shutdown');
      const dir = mkdtempSync(join(tmpdir(), 'keygate-shutdown-'));
      const config = join(dir, 'keygate.yaml');
      const slow = 'timeoutMs: 60000, deadlineMs: 60000';
      writeFileSync(
        config,
        [
          'providers:',
          tyk
            ? `  tyk: { kind: tyk, baseUrl: "${sim.baseUrl}", adminSecret: "${secret}", ${slow} }`
            : `  mesa: { kind: mesa, baseUrl: "${sim.baseUrl}", org: acme, token: "${secret}", ${slow} }`,
          tyk ? `audit: { postgres: "${await testDatabaseUrl()}", schema: ${schema} }` : `audit: { sqlite: "${join(dir, 'audit.db')}" }`,
          'server: { shutdownGraceMs: 300 }',
        ].join('\n'),
      );
      const child = spawn(process.execPath, ['src/main.ts', '--config', config, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, LOG_LEVEL: 'warn' },
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((r) => child.on('exit', r));
      try {
        await until(() => /keygate listening on \S+/.test(out), 'keygate to listen', 15_000);
        const url = /keygate listening on (\S+)/.exec(out)![1];
        // The vendor never answers the write: the call is still in flight when the grace period ends.
        const write = tyk ? 'PUT' : 'PATCH';
        sim.inject(faults.hang({ method: write }));
        const query = `mutation { updateApiKey(provider: "${tyk ? 'tyk' : 'mesa'}", id: "${keyId}", patch: { setTags: [{ key: "cut"${tyk ? '' : ', value: "1"'} }] }) { id } }`;
        const inFlight = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }).then(
          (r) => r.text(),
          (err: Error) => err,
        );
        await until(() => sim.requests.some((r) => r.method === write), 'the write to reach the vendor');
        const signalled = performance.now();
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        const elapsed = performance.now() - signalled;
        expect(elapsed).toBeGreaterThanOrEqual(290);
        expect(elapsed).toBeLessThan(3_000);
        // The client learns the connection was dropped; it is not told "OK".
        expect(await inFlight).toBeInstanceOf(Error);
        const warning = out.split('\n').find((l) => l.includes('shutdown grace period over'));
        expect(JSON.parse(warning!)).toMatchObject({ level: 40, requests: 1, graceMs: 300 });
        // Read as `auditLog` reads it: an attempt with no outcome row shows as PENDING.
        const store = await createAuditStore(
          tyk ? { store: 'postgres', url: await testDatabaseUrl(), schema } : { store: 'sqlite', path: join(dir, 'audit.db'), synchronous: 'normal' },
        );
        const { entries } = await store!.query({ keyId }, 10);
        await store!.close();
        expect(entries.map((e) => e.outcome)).toEqual(['PENDING']);
        expect(out).not.toContain(secret);
      } finally {
        child.kill('SIGKILL');
        await sim.close();
        if (tyk) await dropSchema(schema);
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});

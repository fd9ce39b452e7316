/**
 * Deadlines, safe retries that honour Retry-After, circuit breakers, bulkheads and response limits
 * over real HTTP: for each fault the GraphQL outcome and the upstream attempts the simulator saw,
 * in order and in number, never in milliseconds (the timing itself is unit-tested on a fake clock in
 * test/resilience-units.test.ts). Faults about timeouts hang (never answer); every other test has
 * timeouts far longer than any healthy answer, so load cannot change its outcome.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ATLAS_DEMO, type AtlasSimulator } from '../providers/atlas/simulator.ts';
import { createMesaSimulator, demoKey } from '../providers/mesa/simulator.ts';
import { createTykSimulator, demoSession } from '../providers/tyk/simulator.ts';
import { providers } from '../providers/index.ts';
import { faults, type RecordedRequest } from '../sandbox/simulator-kit.ts';
import type { ApiKeyPatch, BuiltinKind, Sandbox } from '../providers/types.ts';
import { createAuditStore } from '../src/audit/store.ts';
import { skippableClock } from './fake-clock.ts';
import { recordSeen, registerSecret, startGateway, until, UPDATE, type TestGateway } from './harness.ts';
import { dropSchema, testDatabaseUrl, uniqueSchema } from './pg.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';

/**
 * The method of each vendor's update call. Besides the hand-written adapters, two vendors on the
 * declarative engine, which share one code path: a PATCH (SendGrid) and a read-modify-write PUT
 * (Cloudflare); the other engine vendors would add time, not paths.
 */
const WRITE_METHOD = {
  mesa: 'PATCH',
  basic: 'PATCH',
  atlas: 'PATCH',
  tyk: 'PUT',
  plumaa: 'PUT',
  sendgrid: 'PATCH',
  cloudflare: 'PUT',
} as const satisfies Partial<Record<BuiltinKind, string>>;
type Kind = keyof typeof WRITE_METHOD;
const KINDS = Object.keys(WRITE_METHOD) as Kind[];

function validPatch(kind: Kind): ApiKeyPatch {
  return providers[kind].adapter.patchFields.includes('name') ? { name: 'resilience test' } : { setTags: [{ key: 'resilience', value: 'yes' }] };
}

/** Upstream attempts of the update call the simulator saw (an Atlas Digest challenge is not one). */
const attemptsSeen = (requests: RecordedRequest[], kind: Kind) => requests.filter((r) => r.method === WRITE_METHOD[kind] && r.status !== 401).length;

async function startSandboxes(): Promise<Map<Kind, Sandbox>> {
  const sandboxes = new Map<Kind, Sandbox>();
  for (const kind of KINDS) {
    const s = await providers[kind].startSandbox();
    for (const [field, value] of Object.entries(s.connection)) if (providers[kind].adapter.secretConfigFields.includes(field)) registerSecret(String(value));
    sandboxes.set(kind, s);
  }
  return sandboxes;
}

let sandboxes: Map<Kind, Sandbox>;
let gw: TestGateway;

/**
 * Per kind: `<kind>` retries at once, with timeouts no healthy answer comes near; `<kind>-hang` times
 * out soon, for vendors that never answer; `<kind>-patient` would wait out a Retry-After of up to a
 * minute but has a 20 s deadline; `<kind>-tight` has a deadline that cuts a hanging attempt.
 * No pacing: these are per-call semantics (the connection-wide pause a 429 starts is test/rate-limit.test.ts's).
 */
const NO_BREAKER = { failures: 1000, cooldownMs: 1000 };
const CONNECTIONS = {
  '': { timeoutMs: 10_000, deadlineMs: 30_000, retry: { attempts: 3, maxDelayMs: 20 }, circuitBreaker: NO_BREAKER, rateLimit: false },
  '-hang': { timeoutMs: 200, deadlineMs: 30_000, retry: { attempts: 3, maxDelayMs: 20 }, circuitBreaker: NO_BREAKER, rateLimit: false },
  '-patient': { timeoutMs: 10_000, deadlineMs: 20_000, retry: { attempts: 3, maxDelayMs: 60_000 }, circuitBreaker: NO_BREAKER, rateLimit: false },
  '-tight': { timeoutMs: 1_500, deadlineMs: 1_500, retry: { attempts: 5, maxDelayMs: 20 }, circuitBreaker: NO_BREAKER, rateLimit: false },
};

beforeAll(async () => {
  sandboxes = await startSandboxes();
  const doc: Record<string, Record<string, unknown>> = {};
  for (const [kind, s] of sandboxes)
    for (const [suffix, options] of Object.entries(CONNECTIONS)) doc[`${kind}${suffix}`] = { kind, ...s.connection, ...options };
  // The sandbox's Atlas uses a service account; its API key (HTTP Digest) gets a connection too.
  const { clientId: _id, clientSecret: _secret, ...atlas } = sandboxes.get('atlas')!.connection;
  doc['atlas-digest'] = { kind: 'atlas', ...atlas, publicKey: ATLAS_DEMO.publicKey, privateKey: ATLAS_DEMO.privateKey, ...CONNECTIONS[''] };
  gw = await startGateway({ providers: doc });
  // Atlas: fetch the token / complete the Digest handshake once, so each later attempt is one request.
  for (const kind of KINDS) await update(kind, kind);
  await update('atlas-digest', 'atlas');
});
afterAll(async () => {
  await gw?.close();
  await Promise.all([...(sandboxes?.values() ?? [])].map((s) => s.simulator.close()));
});
/** Between tests of the sequential suites below (the per-vendor suites reset only their own simulator). */
const resetAll = () => {
  for (const s of sandboxes.values()) s.simulator.reset();
};

async function update(provider: string, kind: Kind, on: TestGateway = gw) {
  const id = sandboxes.get(kind)!.demoKeyIds[0];
  const res = await on.gql(UPDATE, { provider, id, patch: validPatch(kind) });
  return { body: res.body, error: res.body.errors?.[0] };
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
    const { body } = await update(kind, kind);
    expect(body.errors).toBeUndefined();
    expect(
      sim()
        .requests.filter((r) => r.method === method && r.status !== 401)
        .map((r) => r.status),
    ).toEqual([503, 503, 200]);
    expect(sim().writes()).toHaveLength(1);
  });

  it('retries an HTML 502 page up to retry.attempts, then answers UPSTREAM_ERROR with upstream.attempts', inTurn, async () => {
    sim().inject(faults.html502({ method, times: 3 }));
    const { error } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', provider: kind, upstream: { status: 502, message: '502 Bad Gateway', attempts: 3 } });
    expect(seen()).toBe(3);
  });

  it('retries a reset connection and succeeds', inTurn, async () => {
    sim().inject(faults.reset({ method }));
    const { body } = await update(kind, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(2);
  });

  it('retries timeouts, then answers UPSTREAM_UNAVAILABLE with extensions.attempts (the vendor never answered)', inTurn, async () => {
    sim().inject(faults.hang({ method, times: 3 }));
    const { error } = await update(`${kind}-hang`, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: `${kind}-hang`, attempts: 3 });
    expect(error?.extensions.upstream).toBeUndefined();
    expect(error?.message).toContain('200 ms');
    expect(seen()).toBe(3);
  });

  it('answers a slow vendor normally within timeoutMs, in one attempt', inTurn, async () => {
    sim().inject(faults.delay(50, { method }));
    const { body } = await update(kind, kind);
    expect(body.errors).toBeUndefined();
    expect(seen()).toBe(1);
  });

  it.each([400, 404, 409, 500])('never retries a %i', inTurn, async (status) => {
    sim().inject({ method, times: 3, response: { status } });
    const { error } = await update(kind, kind);
    expect(error?.extensions.upstream).toMatchObject({ status, attempts: 1 });
    expect(seen()).toBe(1);
  });

  // Waiting out a Retry-After of n seconds is unit-tested on a fake clock; over HTTP, one of 0 is
  // honoured by retrying at once.
  it('honours a Retry-After of 0 on 429 and on 503: retries at once and succeeds', inTurn, async () => {
    sim().inject(faults.rateLimited(0, { method }));
    sim().inject(faults.unavailable({ method, retryAfter: 0 }));
    const { body } = await update(`${kind}-patient`, kind);
    expect(body.errors).toBeUndefined();
    expect(
      sim()
        .requests.filter((r) => r.method === method && r.status !== 401)
        .map((r) => r.status),
    ).toEqual([429, 503, 200]);
  });

  it('answers RATE_LIMITED with retryAfter at once when Retry-After is longer than maxDelayMs', inTurn, async () => {
    sim().inject(faults.rateLimited(30, { method, times: 3 }));
    const { error } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 30, attempts: 1 } });
    expect(seen()).toBe(1);
  });

  it('answers RATE_LIMITED at once when Retry-After (an HTTP date) is longer than what is left of the deadline', inTurn, async () => {
    // -patient: maxDelayMs (60 s) would allow a wait of ~40 s, its 20 s deadline does not.
    sim().inject(faults.rateLimited(new Date(Date.now() + 40_000), { method, times: 3 }));
    const { error } = await update(`${kind}-patient`, kind);
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, attempts: 1 } });
    expect(error?.extensions.upstream.retryAfter).toBeGreaterThanOrEqual(38);
    expect(error?.extensions.upstream.retryAfter).toBeLessThanOrEqual(41);
    expect(seen()).toBe(1);
  });

  it('stops at the deadline: the attempt still running when deadlineMs passes is cut, and no other starts', inTurn, async () => {
    // -tight: the first attempt gets a 503, the second never answers; 5 attempts are allowed, but
    // the 1.5 s deadline, which started before the second attempt's 1.5 s timeout, cuts it.
    sim().inject(faults.unavailable({ method }));
    sim().inject(faults.hang({ method, times: 4 }));
    const { error } = await update(`${kind}-tight`, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 2 });
    expect(error?.message).toContain('deadline of 1500 ms');
    expect(seen()).toBe(2);
  });

  it('answers truncated JSON with UPSTREAM_BAD_RESPONSE, without retrying', inTurn, async () => {
    sim().inject(faults.truncatedJson({ method, times: 3 }));
    const { error } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { status: 200, attempts: 1 } });
    expect(seen()).toBe(1);
  });

  // timeoutMs is far longer than streaming 1 MiB takes even under load: with a short one the
  // exchange timed out mid-body, was retried as a timeout and got the normal answer.
  it('refuses a body over 1 MiB without reading it all: UPSTREAM_BAD_RESPONSE, and the connection is dropped early', inTurn, async () => {
    sim().inject(faults.oversize(256 * 1024 * 1024, { method, times: 3 }));
    const { error } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { attempts: 1 } });
    expect(error?.message).toContain('size limit');
    expect(seen()).toBe(1);
    // 256 MiB were offered; keygate hung up after about 1 MiB, long before the end.
    await until(() => sim().requests.some((r) => r.aborted), { what: 'the simulator to see the connection dropped' });
  });

  it('refuses a body that announces over 1 MiB in Content-Length the same way, naming the status it came with', inTurn, async () => {
    sim().inject(faults.oversize(256 * 1024 * 1024, { method, declared: true, status: 400, times: 3 }));
    const { error } = await update(kind, kind);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_BAD_RESPONSE', upstream: { status: 400, attempts: 1 } });
    expect(error?.message).toContain('answered HTTP 400 with a body over the size limit');
    expect(seen()).toBe(1);
    await until(() => sim().requests.some((r) => r.aborted), { what: 'the simulator to see the connection dropped' });
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
    const { error } = await update('atlas-digest', 'atlas');
    expect(atlas.requests.map((r) => r.status)).toEqual([401, 503, 503, 503]);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503, attempts: 3 } });
  });

  it('Atlas: after a stale nonce the update succeeds with one re-challenge', async () => {
    const atlas = sandboxes.get('atlas')!.simulator as AtlasSimulator;
    atlas.expireNonces();
    const { body } = await update('atlas-digest', 'atlas');
    expect(body.errors).toBeUndefined();
    expect(atlas.requests.map((r) => r.status)).toEqual([401, 200]);
  });

  it('Atlas: a 401 to a revoked token is answered inside one attempt (one new token), not counted as one', async () => {
    const atlas = sandboxes.get('atlas')!.simulator as AtlasSimulator;
    atlas.expireTokens();
    // The first PATCH (revoked token) goes through to the 401; the next three get 503.
    atlas.inject(faults.unavailable({ method: 'PATCH', skip: 1, times: 3 }));
    const { error } = await update('atlas', 'atlas');
    expect(atlas.requests.map((r) => `${r.method} ${r.status}`)).toEqual(['PATCH 401', 'POST 200', 'PATCH 503', 'PATCH 503', 'PATCH 503']);
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503, attempts: 3 } });
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
  // The cooldown is a minute, so the breaker stays open however slow the machine; the test ends
  // it by skipping the gateway's clock ahead.
  const clock = skippableClock();
  const COOLDOWN_MS = 60_000;
  const mesa = () => sandboxes.get('mesa')!.simulator;
  const health = async (name: string) => {
    const res = await breakerGw.gql(HEALTH);
    return (res.body.data!.providers as { name: string; health: { state: string; consecutiveFailures: number } }[]).find((p) => p.name === name)!.health;
  };

  beforeAll(async () => {
    const connection = sandboxes.get('mesa')!.connection;
    // The probe's slow answer (below) fits well within timeoutMs.
    const options = { timeoutMs: 3_000, deadlineMs: 30_000, retry: { attempts: 1, maxDelayMs: 0 }, circuitBreaker: { failures: 3, cooldownMs: COOLDOWN_MS } };
    breakerGw = await startGateway(
      { providers: Object.fromEntries(['opens', 'counts', 'reopens'].map((name) => [name, { kind: 'mesa', ...connection, ...options }])) },
      { clock },
    );
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
    expect(fast.error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'opens', attempts: 0 });
    expect(fast.error?.extensions.retryAfter).toBeGreaterThanOrEqual(50);
    expect(fast.error?.extensions.retryAfter).toBeLessThanOrEqual(60);
    expect(fast.error?.message).toContain('circuit open');
    expect(mesa().requests.length).toBe(before); // the vendor was not called

    clock.skip(COOLDOWN_MS);
    expect((await health('opens')).state).toBe('HALF_OPEN');
    // Half-open: the probe is slow, so calls made while it is at the vendor are refused without being sent.
    mesa().inject(faults.delay(1_500));
    const probe = update('opens', 'mesa', breakerGw);
    await until(() => mesa().requests.length === before + 1, { what: 'the probe to reach the vendor' });
    const others = await Promise.all([1, 2].map(() => update('opens', 'mesa', breakerGw)));
    for (const r of others) expect(r.error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    expect((await probe).body.errors).toBeUndefined();
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
    clock.skip(COOLDOWN_MS);
    expect((await health('reopens')).state).toBe('HALF_OPEN');
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
    const g = await startGateway({ providers: { p: { kind: 'plumaa', ...connection, maxConcurrency: 2, timeoutMs: 10_000, deadlineMs: 30_000 } } });
    try {
      const plumaa = sandboxes.get('plumaa')!.simulator;
      // Slow answers, so that calls overlap however the six requests are spread out.
      plumaa.inject(faults.delay(300, { times: 6 }));
      const results = await Promise.all([1, 2, 3, 4, 5, 6].map(() => update('p', 'plumaa', g)));
      for (const r of results) expect(r.body.errors).toBeUndefined();
      expect(plumaa.requests).toHaveLength(6);
      expect(plumaa.maxInFlight()).toBe(2);
    } finally {
      await g.close();
    }
  });

  it('refuses at once with UPSTREAM_UNAVAILABLE "too many concurrent calls" when the queue is full', async () => {
    const connection = sandboxes.get('basic')!.connection;
    // One slot, so 4 may wait. The first call hangs for one attempt (long enough for the others
    // to queue behind it on a slow machine), then succeeds on its retry.
    const g = await startGateway({
      providers: { one: { kind: 'basic', ...connection, maxConcurrency: 1, timeoutMs: 3_000, deadlineMs: 30_000, retry: { attempts: 2, maxDelayMs: 10 } } },
    });
    try {
      const basic = sandboxes.get('basic')!.simulator;
      basic.inject(faults.hang());
      const answered: string[] = [];
      const first = update('one', 'basic', g).then((r) => {
        answered.push('first');
        return r;
      });
      await until(() => basic.requests.length === 1, { what: 'the first call to reach the vendor' });
      const rest = await Promise.all(
        [1, 2, 3, 4, 5].map(() =>
          update('one', 'basic', g).then((r) => {
            answered.push(r.error ? 'refused' : 'queued');
            return r;
          }),
        ),
      );
      const refused = rest.filter((r) => r.error);
      expect(refused).toHaveLength(1);
      expect(refused[0].error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: 'one', attempts: 0 });
      expect(refused[0].error?.message).toContain('too many concurrent calls');
      expect((await first).body.errors).toBeUndefined();
      // Refused at once: before the call holding the slot was answered.
      expect(answered.indexOf('refused')).toBeLessThan(answered.indexOf('first'));
      expect(basic.maxInFlight()).toBe(1);
      expect(basic.requests).toHaveLength(6); // 2 attempts of the first, 4 queued calls, none of the refused
    } finally {
      await g.close();
    }
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
      await until(() => own.simulator.openSockets() === 0, { what: 'the pool to close its socket' });
    } finally {
      await own.simulator.close();
    }
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
    expect((await update('atlas-digest', 'atlas')).body.errors).toBeUndefined();
    expect(atlas.requests.map((r) => r.status)).toEqual([401, 200]);
    expect((await fetch(`${atlas.origin}/__sim/expire-tokens`, { method: 'POST' })).status).toBe(204);
    atlas.reset();
    expect((await update('atlas', 'atlas')).body.errors).toBeUndefined();
    expect(atlas.requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      expect.stringMatching(/^PATCH \/api\/atlas\/v2\/.* 401$/),
      'POST /api/oauth/token 200',
      expect.stringMatching(/^PATCH \/api\/atlas\/v2\/.* 200$/),
    ]);
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
      await until(() => out.includes('Run with --config'), { timeoutMs: 15_000, what: 'the sandbox banner' });
      const url = /GraphiQL at (http:\/\/\S+)/.exec(out)![1];
      const lines = out.split('\n');
      const mesaAt = lines.findIndex((l) => l.startsWith('  mesa '));
      const example = lines[mesaAt + 1].trim();
      const faultsUrl = /faults: POST (\S+)/.exec(lines[mesaAt + 2])![1];
      const simOrigin = faultsUrl.replace(/\/__sim\/faults$/, '');

      // A slow vendor: the call will be in flight when SIGTERM comes (and while new connections are
      // seen refused), however slow the machine.
      expect((await fetch(faultsUrl, { method: 'POST', body: JSON.stringify({ delayMs: 3_000 }) })).status).toBe(204);
      const inFlight = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: example }) }).then((r) =>
        r.text(),
      );
      await until(async () => (await (await fetch(`${simOrigin}/__sim/requests`)).json()).length === 1, { what: 'the call to reach the vendor' });
      let answered = false;
      void inFlight.then(() => (answered = true));
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
        { what: 'new connections to be refused' },
      );
      expect(answered).toBe(false);

      const text = await inFlight;
      recordSeen(text);
      const body = JSON.parse(text);
      expect(body.errors).toBeUndefined();
      expect(body.data.updateApiKey.id).toBeTruthy();
      // Exit follows the last answer: its keep-alive connection (idle for up to 5 s by default) does not hold the close.
      await until(() => child.exitCode !== null, { timeoutMs: 3_000, what: 'keygate to exit after its last answer' });
      expect(await exited).toBe(0);
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
        await until(() => /keygate listening on \S+/.test(out), { timeoutMs: 15_000, what: 'keygate to listen' });
        const url = /keygate listening on (\S+)/.exec(out)![1];
        // The vendor never answers the write: the call is still in flight when the grace period ends.
        const write = tyk ? 'PUT' : 'PATCH';
        sim.inject(faults.hang({ method: write }));
        const query = `mutation { updateApiKey(provider: "${tyk ? 'tyk' : 'mesa'}", id: "${keyId}", patch: { setTags: [{ key: "cut"${tyk ? '' : ', value: "1"'} }] }) { id } }`;
        const inFlight = fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) }).then(
          (r) => r.text(),
          (err: Error) => err,
        );
        await until(() => sim.requests.some((r) => r.method === write), { what: 'the write to reach the vendor' });
        child.kill('SIGTERM');
        expect(await exited).toBe(0);
        // The client learns the connection was dropped; it is not told "OK".
        expect(await inFlight).toBeInstanceOf(Error);
        const warning = out.split('\n').find((l) => l.includes('shutdown grace period over'));
        expect(JSON.parse(warning!)).toMatchObject({ level: 40, requests: 1, graceMs: 300 });
        // Read as `auditLog` reads it: an attempt with no outcome row shows as PENDING.
        const store = await createAuditStore(
          tyk ? { store: 'postgres', url: await testDatabaseUrl(), schema } : { store: 'sqlite', path: join(dir, 'audit.db'), synchronous: 'normal' },
        );
        // A Tyk key id is kept as its fingerprint.
        const { entries } = await store!.query({ keyId: tyk ? fingerprintKeyId(keyId) : keyId }, 10);
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

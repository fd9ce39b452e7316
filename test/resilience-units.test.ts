/**
 * The resilience logic in-process (src/upstream/resilience.ts) on a hand-driven clock: backoff,
 * Retry-After, the circuit breaker, the bulkhead and the call's deadline, to the millisecond of the
 * fake clock and never of the wall clock. test/resilience.test.ts checks the same over real HTTP.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { resolveConfig } from '../src/config/schema.ts';
import { GatewayError, type UpstreamInfo } from '../src/core/errors.ts';
import { createResilience, type Resilience } from '../src/upstream/resilience.ts';
import { fakeClock, type FakeClock } from './fake-clock.ts';

let clock: FakeClock;
beforeEach(() => {
  clock = fakeClock();
});

function connection(over: Record<string, unknown> = {}) {
  return resolveConfig({
    providers: { m: { kind: 'mesa', baseUrl: 'http://127.0.0.1:9', org: 'o', token: 'mesa_units_token_1', timeoutMs: 1_000, deadlineMs: 10_000, ...over } },
  }).providers.get('m')!;
}

function resilience(over: Record<string, unknown> = {}, random = () => 0.5): Resilience {
  return createResilience(connection(over), { clock, random });
}

/** No answer at all (a timeout, a reset): retried, and a vendor fault for the breaker. */
const down = () => new GatewayError('m: no answer', { code: 'UPSTREAM_UNAVAILABLE', provider: 'm' });
/** The vendor answered `status` (with Retry-After seconds, if given). */
function answered(status: number, retryAfter?: number): GatewayError {
  const upstream: UpstreamInfo = { status, ...(retryAfter !== undefined && { retryAfter }) };
  return new GatewayError(`m: HTTP ${status}`, {
    code: status === 429 ? 'RATE_LIMITED' : status === 404 ? 'NOT_FOUND' : 'UPSTREAM_ERROR',
    provider: 'm',
    upstream,
  });
}

/** An attempt that fails with each of `failures` in turn, then answers 'ok'; records the clock at each start. */
function script(...failures: GatewayError[]) {
  const startedAt: number[] = [];
  const attempt = async () => {
    startedAt.push(clock.now());
    const failure = failures[startedAt.length - 1];
    if (failure) throw failure;
    return 'ok';
  };
  return { attempt, startedAt };
}

/** Runs `execute` to its end while the clock advances, up to `ms`; the settled value or error. */
async function settle<T>(promise: Promise<T>, ms = 60_000): Promise<{ value?: T; error?: GatewayError; at: number }> {
  let outcome: { value?: T; error?: GatewayError; at: number } | undefined;
  promise.then(
    (value) => (outcome = { value, at: clock.now() }),
    (error: GatewayError) => (outcome = { error, at: clock.now() }),
  );
  await clock.settle();
  for (let step = 0; !outcome && step < ms; step += 1) await clock.advance(1);
  if (!outcome) throw new Error(`still running after ${ms} ms of the fake clock`);
  return outcome;
}

/** An attempt that never answers on its own: it ends when its signal aborts (as the HTTP client does). */
const hang = (signal: AbortSignal | undefined) => new Promise<never>((_, reject) => signal!.addEventListener('abort', () => reject(down()), { once: true }));

describe('backoff', () => {
  it('waits random × min(maxDelayMs, 100 ms × 2^(n-1)) between attempts: exponential, capped, fully jittered', async () => {
    for (const [random, gaps] of [
      [0.999, [99.9, 199.8, 249.75]],
      [0.5, [50, 100, 125]],
      [0, [0, 0, 0]],
    ] as const) {
      clock = fakeClock();
      const { attempt, startedAt } = script(down(), down(), down(), down());
      const { error } = await settle(resilience({ retry: { attempts: 4, maxDelayMs: 250 } }, () => random).execute(attempt));
      expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 4 });
      expect(startedAt.slice(1).map((t, i) => t - startedAt[i])).toEqual(gaps.map((g) => expect.closeTo(g, 6)));
    }
  });

  it('retries 502/503/504, 429 and no answer; never another 4xx, never a 500', async () => {
    for (const failure of [answered(502), answered(503), answered(504), answered(429), down()]) {
      const { attempt, startedAt } = script(failure);
      expect((await settle(resilience().execute(attempt))).value).toBe('ok');
      expect(startedAt).toHaveLength(2);
    }
    for (const failure of [answered(400), answered(404), answered(409), answered(500)]) {
      const { attempt, startedAt } = script(failure, failure);
      const { error, at } = await settle(resilience().execute(attempt));
      expect((error?.extensions.upstream as UpstreamInfo | undefined)?.attempts).toBe(1);
      expect(startedAt).toHaveLength(1);
      expect(at).toBe(startedAt[0]);
    }
  });

  it('does not start a wait longer than what is left of the deadline', async () => {
    // Deadline 120 ms, backoff 0.999 × 100 ms, then 0.999 × 200 ms: the second wait does not fit.
    const { attempt, startedAt } = script(down(), down(), down());
    const { error, at } = await settle(
      resilience({ timeoutMs: 100, deadlineMs: 120, retry: { attempts: 5, maxDelayMs: 1_000 } }, () => 0.999).execute(attempt),
    );
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 2 });
    expect(startedAt).toEqual([0, expect.closeTo(99.9, 6)]);
    expect(at).toBe(startedAt[1]);
  });
});

describe('Retry-After', () => {
  it('is the wait when it fits within maxDelayMs and the deadline (429 and 503)', async () => {
    for (const status of [429, 503]) {
      clock = fakeClock();
      const { attempt, startedAt } = script(answered(status, 2));
      const { value } = await settle(resilience({ retry: { attempts: 3, maxDelayMs: 5_000 } }).execute(attempt));
      expect(value).toBe('ok');
      expect(startedAt).toEqual([0, 2_000]);
    }
  });

  it('is not waited when longer than maxDelayMs: the vendor answer comes back at once', async () => {
    const { attempt, startedAt } = script(answered(429, 30), answered(429, 30));
    const { error, at } = await settle(resilience({ retry: { attempts: 3, maxDelayMs: 5_000 } }).execute(attempt));
    expect(error?.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 30, attempts: 1 } });
    expect(startedAt).toEqual([0]);
    expect(at).toBe(0);
  });

  it('is not waited when as long as what is left of the deadline, even within maxDelayMs', async () => {
    const { attempt, startedAt } = script(answered(503, 3), answered(503, 3));
    const { error, at } = await settle(resilience({ deadlineMs: 3_000, retry: { attempts: 3, maxDelayMs: 10_000 } }).execute(attempt));
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503, retryAfter: 3, attempts: 1 } });
    expect(startedAt).toEqual([0]);
    expect(at).toBe(0);
  });

  it('of 0 means retry now', async () => {
    const { attempt, startedAt } = script(answered(429, 0));
    expect((await settle(resilience().execute(attempt))).value).toBe('ok');
    expect(startedAt).toEqual([0, 0]);
  });
});

describe('the deadline across attempts', () => {
  it('bounds attempts and waits together: the attempt running at the deadline is cut there', async () => {
    // Attempt 1 fails at once, the backoff is 50 ms, attempt 2 never answers: cut at 1 000 ms.
    let n = 0;
    const attempt = (signal: AbortSignal | undefined) => (++n === 1 ? Promise.reject(down()) : hang(signal));
    const { error, at } = await settle(resilience({ deadlineMs: 1_000, retry: { attempts: 5, maxDelayMs: 100 } }).execute(attempt));
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 2 });
    expect(n).toBe(2);
    expect(at).toBe(1_000);
  });

  it('gives each call a deadline of its own', async () => {
    const r = resilience({ deadlineMs: 1_000 });
    const cutAt: number[] = [];
    const cut = () => void cutAt.push(clock.now());
    const first = r.execute(hang).catch(cut);
    await clock.advance(600);
    const second = r.execute(hang).catch(cut);
    await clock.advance(1_000);
    await Promise.all([first, second]);
    expect(cutAt).toEqual([1_000, 1_600]);
  });
});

describe('circuit breaker', () => {
  const options = { retry: { attempts: 1, maxDelayMs: 0 }, circuitBreaker: { failures: 3, cooldownMs: 2_500 } };
  const fail = (r: Resilience) => settle(r.execute(() => Promise.reject(down())));

  async function opened(): Promise<Resilience> {
    const r = resilience(options);
    for (let i = 0; i < 3; i++) await fail(r);
    expect(r.health()).toEqual({ state: 'OPEN', consecutiveFailures: 3 });
    return r;
  }

  it('opens after `failures` vendor faults in a row and refuses at once, with seconds until a probe may go', async () => {
    const r = await opened();
    const { attempt, startedAt } = script();
    const { error, at } = await settle(r.execute(attempt));
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 3, attempts: 0 });
    expect(error?.message).toContain('circuit open');
    expect(startedAt).toEqual([]);
    expect(at).toBe(0);
    await clock.advance(1_000);
    expect((await settle(r.execute(attempt))).error?.extensions.retryAfter).toBe(2);
  });

  it('is half-open after cooldownMs: exactly one call goes through as a probe; its success closes it', async () => {
    const r = await opened();
    await clock.advance(2_499);
    expect(r.health().state).toBe('OPEN');
    await clock.advance(1);
    expect(r.health().state).toBe('HALF_OPEN');
    let finishProbe!: (value: string) => void;
    const probe = settle(r.execute(() => new Promise<string>((resolve) => (finishProbe = resolve))));
    await clock.settle();
    const others = await Promise.all([1, 2].map(() => settle(r.execute(async () => 'not sent'))));
    for (const o of others) expect(o.error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    finishProbe('probe');
    expect((await probe).value).toBe('probe');
    expect(r.health()).toEqual({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  it('opens for another cooldown when the probe fails', async () => {
    const r = await opened();
    await clock.advance(2_500);
    expect((await fail(r)).error?.extensions.attempts).toBe(1);
    expect(r.health()).toEqual({ state: 'OPEN', consecutiveFailures: 4 });
    await clock.advance(2_499);
    expect(r.health().state).toBe('OPEN');
    await clock.advance(1);
    expect(r.health().state).toBe('HALF_OPEN');
  });

  it('counts only vendor faults: an answer that is not one resets the count', async () => {
    const r = resilience(options);
    await fail(r);
    await fail(r);
    await settle(r.execute(() => Promise.reject(answered(404))));
    expect(r.health()).toEqual({ state: 'CLOSED', consecutiveFailures: 0 });
  });

  it('stops retrying when it opens mid-call, answering the last vendor error', async () => {
    const r = resilience({ retry: { attempts: 5, maxDelayMs: 10 }, circuitBreaker: { failures: 2, cooldownMs: 10_000 } });
    const { attempt, startedAt } = script(answered(502), answered(502), answered(502));
    const { error } = await settle(r.execute(attempt));
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 502, attempts: 2 } });
    expect(startedAt).toHaveLength(2);
  });
});

describe('bulkhead', () => {
  /** An attempt held until the test lets it go. */
  function held() {
    let release!: () => void;
    const gate = new Promise<string>((resolve) => (release = () => resolve('held')));
    return { attempt: () => gate, release: () => release() };
  }

  it('runs maxConcurrency calls at once; 4 per slot wait their turn, in order; beyond that it refuses at once', async () => {
    const r = resilience({ maxConcurrency: 1 });
    const first = held();
    const running = settle(r.execute(first.attempt));
    await clock.settle();
    const order: number[] = [];
    const queued = [1, 2, 3, 4].map((i) => settle(r.execute(async () => void order.push(i))));
    const refused = await settle(r.execute(async () => 'not sent'));
    expect(refused.error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    expect(refused.error?.message).toContain('too many concurrent calls to the vendor (at most 1 in flight); the queue of waiting calls is full');
    expect(order).toEqual([]);
    first.release();
    expect((await running).value).toBe('held');
    for (const q of await Promise.all(queued)) expect(q.error).toBeUndefined();
    expect(order).toEqual([1, 2, 3, 4]);
  });

  it('fails a call that gets no turn before its deadline, at the deadline, sending nothing', async () => {
    const r = resilience({ maxConcurrency: 1, timeoutMs: 100, deadlineMs: 100 });
    const first = held();
    void r.execute(first.attempt).catch(() => undefined);
    await clock.settle();
    const { attempt, startedAt } = script();
    const { error, at } = await settle(r.execute(attempt));
    expect(error?.extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 0 });
    expect(error?.message).toContain('too many concurrent calls');
    expect(error?.message).toContain('no turn came before the deadline');
    expect(at).toBe(100);
    expect(startedAt).toEqual([]);
    first.release();
  });
});

/**
 * Resilience around one logical vendor call (an update, a read, a list page, or Tyk's whole
 * read-modify-write): the deadline, the retries, the circuit breaker and the bulkhead of one
 * provider connection. `attempt` performs the call once and throws a GatewayError on failure.
 *
 * Retry policy. Reads are GETs, always safe to repeat. An update whose outcome is unknown (a
 * timeout, a reset, a 502/503/504: the vendor may have applied it) is repeated only when the
 * adapter declares its update idempotent (`ProviderAdapter.updateIdempotency`, with the reason);
 * a 429 or a connection never made (refused, unresolvable) applied nothing, so it is repeated for any.
 *
 * - Retried: connection errors, timeouts, 502/503/504 and 429 — never another 4xx, never a 500
 *   (a vendor's 500 may be a deterministic refusal, e.g. Tyk's org_id change).
 * - `retry.attempts` attempts at most, all within the call's deadline (`deadlineMs` from the call's
 *   start, src/core/deadline.ts: waits, queueing and a Tyk update's key-lock wait included).
 * - A `Retry-After` is honoured as the wait; when it is longer than `retry.maxDelayMs` or than
 *   what is left of the deadline, the vendor's answer (RATE_LIMITED with `retryAfter` for a 429)
 *   is returned at once instead of waiting. Without one: exponential backoff with full jitter,
 *   `random(0, min(maxDelayMs, BASE_DELAY_MS * 2^(n-1)))`.
 * - An Atlas 401 `stale=true` is answered inside one attempt by the client (src/upstream/client.ts),
 *   so the re-authentication is not counted as an attempt.
 * - Circuit breaker: `circuitBreaker.failures` consecutive attempts that failed by the vendor's fault
 *   (5xx, timeouts, connection errors — not 4xx) open it; while open, calls fail fast with
 *   UPSTREAM_UNAVAILABLE and `retryAfter` (seconds until a probe may go). After `cooldownMs` it is
 *   half-open: exactly one call goes through as a probe; its success closes the breaker, its
 *   failure opens it for another cooldown.
 * - Bulkhead: at most `maxConcurrency` calls in flight; up to QUEUE_PER_SLOT × maxConcurrency more
 *   wait for a turn within their deadline; beyond that, or past the deadline, UPSTREAM_UNAVAILABLE
 *   ("too many concurrent calls").
 * - Every error leaving here says how many attempts were made (src/core/errors.ts `withAttempts`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ConnectionConfig } from '../config/schema.ts';
import { realClock, sleep, type Clock } from '../core/clock.ts';
import { startDeadline, type Deadline } from '../core/deadline.ts';
import { circuitOpenError, deadlinePassedError, GatewayError, tooManyCallsError, withAttempts, type UpstreamInfo } from '../core/errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { RateLimitRefusal } from './rate-limit.ts';

export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

export interface Health {
  state: CircuitState;
  /** Consecutive attempts that failed by the vendor's fault (reset by any answer that is not). */
  consecutiveFailures: number;
}

export interface Resilience {
  /**
   * Runs one call. `deadline` is the call's, when it started before this (a Tyk update's lock
   * wait counts against it); without one the call's deadline starts here. `call` says whether it
   * may change the key ('update': repeated after an unknown outcome only if the adapter allows).
   */
  execute<T>(attempt: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal, deadline?: Deadline, call?: 'read' | 'update'): Promise<T>;
  health(): Health;
}

export interface ResilienceOptions {
  metrics?: Pick<Metrics, 'upstreamRetries' | 'breakerState'>;
  /** The jitter source, 0 <= x < 1 (tests pin it). */
  random?: () => number;
  /** Deadlines, backoff and Retry-After waits, breaker cooldowns (tests drive it by hand). */
  clock?: Clock;
}

/** The first backoff's upper bound; it doubles per attempt, capped by `retry.maxDelayMs`. */
export const BASE_DELAY_MS = 100;
/** Calls that may wait for a turn, per `maxConcurrency` slot. */
export const QUEUE_PER_SLOT = 4;

interface AttemptScope {
  owner: Resilience;
  signal: AbortSignal;
  deadline: Deadline;
  /** 1 for the first attempt of the call, 2 for the first retry, ... */
  attempt: number;
}

const scope = new AsyncLocalStorage<AttemptScope>();

/**
 * The signal of the attempt running in this async context (the caller's signal and the deadline),
 * so the HTTP client can abort at the deadline without every call site passing it along.
 */
export function attemptSignal(): AbortSignal | undefined {
  return scope.getStore()?.signal;
}

/** The deadline of the call running in this async context (pacing waits within it). */
export function attemptDeadline(): Deadline | undefined {
  return scope.getStore()?.deadline;
}

/** The number of the attempt running in this async context (for spans); undefined outside one. */
export function attemptNumber(): number | undefined {
  return scope.getStore()?.attempt;
}

const STATE_GAUGE: Record<CircuitState, number> = { CLOSED: 0, HALF_OPEN: 1, OPEN: 2 };

export function createResilience(config: ConnectionConfig, options: ResilienceOptions = {}): Resilience {
  const clock = options.clock ?? realClock;
  const now = () => clock.now();
  const random = options.random ?? Math.random;
  const labels = { provider: config.name, kind: config.kind };
  const breaker = createBreaker(config.circuitBreaker, now, (state) => options.metrics?.breakerState.set(labels, STATE_GAUGE[state]));
  const bulkhead = createBulkhead(config.maxConcurrency, QUEUE_PER_SLOT * config.maxConcurrency);
  options.metrics?.breakerState.set(labels, 0);

  const self: Resilience = {
    health: () => ({ state: breaker.state(), consecutiveFailures: breaker.failures() }),

    async execute(attempt, signal, callDeadline, call = 'read') {
      // A call made from inside one of ours (a read inside an update) is part of that attempt.
      const outer = scope.getStore();
      if (outer?.owner === self) return attempt(outer.signal);

      const deadline = callDeadline ?? startDeadline(config.deadlineMs, clock);
      const callSignal = signal ? AbortSignal.any([signal, deadline.signal]) : deadline.signal;
      try {
        const refused = breaker.refusal();
        if (refused) throw circuitOpenError(config.name, config.circuitBreaker.failures, refused);
        const release = await bulkhead.acquire(callSignal).catch((why: Error) => {
          throw tooManyCallsError(config.name, config.maxConcurrency, why.message);
        });
        try {
          // Its whole deadline went on waiting (for a key lock): nothing is sent.
          if (deadline.signal.aborted) throw deadlinePassedError(config.name, deadline.ms);
          return await run(attempt, callSignal, signal, deadline, call === 'read' || config.adapter.updateIdempotency.idempotent);
        } finally {
          release();
        }
      } finally {
        if (!callDeadline) deadline.dispose();
      }
    },
  };

  async function run<T>(
    attempt: (signal: AbortSignal | undefined) => Promise<T>,
    callSignal: AbortSignal,
    callerSignal: AbortSignal | undefined,
    deadline: Deadline,
    repeatable: boolean,
  ): Promise<T> {
    let last: GatewayError | undefined;
    for (let attempts = 1; ; attempts++) {
      const permit = breaker.enter();
      if (!permit.ok) {
        // Another call holds the half-open probe, or the breaker opened while we were retrying:
        // then the vendor's last answer says more than "circuit open".
        if (last) throw last;
        throw circuitOpenError(config.name, config.circuitBreaker.failures, permit.retryAfter);
      }
      if (attempts > 1) options.metrics?.upstreamRetries.inc(labels);
      let failure: unknown;
      try {
        const result = await scope.run({ owner: self, signal: callSignal, deadline, attempt: attempts }, () => attempt(callSignal));
        breaker.leave(permit.probe, 'success');
        return result;
      } catch (err) {
        failure = err;
      }
      const judged = callerSignal?.aborted ? NEUTRAL : judge(failure);
      breaker.leave(permit.probe, judged.outcome);
      if (!(failure instanceof GatewayError)) throw failure;
      const counted = withAttempts(failure, attempts);
      if (!judged.retry || (judged.outcomeUnknown && !repeatable) || attempts >= config.retry.attempts || callSignal.aborted) throw counted;
      last = counted;

      const left = deadline.remaining();
      let wait: number;
      if (judged.retryAfterMs !== undefined) {
        // The vendor said when: wait that long, or answer now if it is too long to wait.
        if (judged.retryAfterMs > config.retry.maxDelayMs || judged.retryAfterMs >= left) throw counted;
        wait = judged.retryAfterMs;
      } else {
        wait = random() * Math.min(config.retry.maxDelayMs, BASE_DELAY_MS * 2 ** (attempts - 1));
        if (wait >= left) throw counted;
      }
      if (!(await sleep(wait, callSignal, clock))) throw counted;
    }
  }

  return self;
}

interface Judgement {
  /** For the breaker: the vendor's fault, an answer that shows the vendor works, or neither. */
  outcome: 'failure' | 'success' | 'neutral';
  retry: boolean;
  retryAfterMs?: number;
  /** The vendor may have applied the request (no answer after connecting, or a 502/503/504). */
  outcomeUnknown?: boolean;
}

const NEUTRAL: Judgement = { outcome: 'neutral', retry: false };
const RETRYABLE_STATUS = new Set([502, 503, 504]);

/** What a failed attempt means, read from the error it threw (src/core/call.ts `call`). */
function judge(err: unknown): Judgement {
  // Not a GatewayError: a bug of ours, which says nothing about the vendor; pacing already waited all it could.
  if (!(err instanceof GatewayError) || err instanceof RateLimitRefusal) return NEUTRAL;
  const upstream = err.extensions.upstream as UpstreamInfo | undefined;
  // No answer at all: a timeout or a connection error.
  if (!upstream) return err.code === 'UPSTREAM_UNAVAILABLE' ? { outcome: 'failure', retry: true, outcomeUnknown: !err.nothingSent } : NEUTRAL;
  const retryAfterMs = upstream.retryAfter === undefined ? undefined : upstream.retryAfter * 1000;
  if (upstream.status === 429) return { outcome: 'success', retry: true, retryAfterMs };
  // A 502/503/504 may come from a proxy after the vendor applied the request.
  if (RETRYABLE_STATUS.has(upstream.status)) return { outcome: 'failure', retry: true, retryAfterMs, outcomeUnknown: true };
  // A 5xx the vendor's body does not attribute to the caller (Plumaa answers NOT_FOUND with 500).
  if (upstream.status >= 500 && err.code === 'UPSTREAM_ERROR') return { outcome: 'failure', retry: false };
  return { outcome: 'success', retry: false };
}

interface Breaker {
  state(): CircuitState;
  failures(): number;
  /** Seconds until a probe may go when calls are refused now; undefined when they are not. */
  refusal(): number | undefined;
  /** Before an attempt: may it go, and is it the half-open probe? */
  enter(): { ok: true; probe: boolean } | { ok: false; retryAfter: number };
  /** After an attempt. */
  leave(probe: boolean, outcome: Judgement['outcome']): void;
}

function createBreaker(options: ConnectionConfig['circuitBreaker'], now: () => number, changed: (state: CircuitState) => void): Breaker {
  let open = false;
  let openUntil = 0;
  let probing = false;
  let failures = 0;

  const state = (): CircuitState => (!open ? 'CLOSED' : now() < openUntil ? 'OPEN' : 'HALF_OPEN');
  const retryAfter = () => Math.max(1, Math.ceil((openUntil - now()) / 1000));
  const trip = () => {
    open = true;
    openUntil = now() + options.cooldownMs;
    changed('OPEN');
  };

  return {
    state,
    failures: () => failures,
    refusal() {
      const s = state();
      if (s === 'OPEN' || (s === 'HALF_OPEN' && probing)) return retryAfter();
      return undefined;
    },
    enter() {
      const s = state();
      if (s === 'CLOSED') return { ok: true, probe: false };
      if (s === 'OPEN' || probing) return { ok: false, retryAfter: retryAfter() };
      probing = true;
      changed('HALF_OPEN');
      return { ok: true, probe: true };
    },
    leave(probe, outcome) {
      if (probe) probing = false;
      if (outcome === 'neutral') return;
      if (open && !probe) return; // Only the probe decides while the breaker is not closed.
      if (outcome === 'success') {
        failures = 0;
        if (open) {
          open = false;
          changed('CLOSED');
        }
        return;
      }
      failures += 1;
      if (probe || failures >= options.failures) trip();
    },
  };
}

interface Bulkhead {
  /** Resolves with a release function once a slot is free; rejects with the reason when not. */
  acquire(signal: AbortSignal): Promise<() => void>;
}

function createBulkhead(slots: number, queueLimit: number): Bulkhead {
  let active = 0;
  const waiting: Array<() => void> = [];

  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active -= 1;
  };

  return {
    acquire(signal) {
      if (active < slots) {
        active += 1;
        return Promise.resolve(once(release));
      }
      if (waiting.length >= queueLimit) return Promise.reject(new Error('the queue of waiting calls is full'));
      if (signal.aborted) return Promise.reject(new Error('no turn came before the deadline'));
      return new Promise((resolve, reject) => {
        const turn = () => {
          signal.removeEventListener('abort', onAbort);
          resolve(once(release));
        };
        const onAbort = () => {
          const i = waiting.indexOf(turn);
          if (i >= 0) waiting.splice(i, 1);
          reject(new Error('no turn came before the deadline'));
        };
        waiting.push(turn);
        signal.addEventListener('abort', onAbort, { once: true });
      });
    },
  };
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

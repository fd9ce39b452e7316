/**
 * Pacing at the vendor's budget: a token bucket per vendor account (`rateLimit: { requests,
 * perSeconds, burst }` of a connection), taken once per HTTP exchange (src/upstream/client.ts).
 *
 * The bucket is kept as GCRA (the generic cell rate algorithm): one number, the theoretical
 * arrival time (TAT), which is exactly a token bucket of `burst` tokens refilled by one every
 * `perSeconds / requests` seconds. A taker reserves the next token (FIFO, one store round trip)
 * and waits until it is due; when that is past what is left of its deadline nothing is reserved
 * and the call fails with UPSTREAM_UNAVAILABLE "rate limit budget exhausted", nothing sent.
 * rate-limiter-flexible was considered and not used: it counts fixed windows, which let up to
 * twice the budget through around a window's edge — exactly what a vendor's bucket answers with 429.
 *
 * The vendor's answers adjust it (src/upstream/rate-limit-headers.ts reads the headers its adapter
 * declares): a 429 pauses the whole connection for its `Retry-After`, else until the declared reset,
 * else for a doubling backoff from 1 s; a `Remaining` of 0 pauses it until the declared reset (else
 * for one token's interval). A connection without a budget of its own (`rateLimit` absent and no
 * vendor default) gets a pacer of these signals only: no bucket and no store, one clock read per
 * exchange while nothing is paused, its pause this process's own.
 *
 * A bucket lives in this process (memory store); with a PostgreSQL audit store, in a row every
 * replica shares (src/audit/pg-buckets.ts); with `rateLimit.store`, in that Redis
 * (src/upstream/redis-buckets.ts). A shared store's clock is the server's. A replica that cannot
 * reach its shared store fails closed (UPSTREAM_UNAVAILABLE): pacing that cannot be shared cannot
 * promise the vendor's budget.
 */
import { createHash } from 'node:crypto';
import type { ConnectionConfig } from '../config/schema.ts';
import { sleep } from '../core/clock.ts';
import { GatewayError, parseRetryAfter } from '../core/errors.ts';
import type { Metrics } from '../observability/metrics.ts';
import { readRateLimitHeaders, type RateLimitSignal } from './rate-limit-headers.ts';

export interface RateLimit {
  requests: number;
  perSeconds: number;
  burst: number;
}

/** GCRA parameters: one token every `intervalMs`; `toleranceMs` is how far ahead the TAT may run (burst − 1 tokens). */
export interface Gcra {
  intervalMs: number;
  toleranceMs: number;
}

export function gcraOf(rate: RateLimit): Gcra {
  const intervalMs = (rate.perSeconds * 1000) / rate.requests;
  return { intervalMs, toleranceMs: intervalMs * (rate.burst - 1) };
}

export interface Reservation {
  /** True when a token was reserved: it is due `waitMs` from now. */
  reserved: boolean;
  /** The wait for the next token (> the allowed wait when nothing was reserved). */
  waitMs: number;
}

/** Where buckets live: this process, or a store every replica shares. Rejects when the store cannot answer. */
export interface BucketStore {
  readonly shared: boolean;
  /** Reserves the next token of `scope` when it is due within `maxWaitMs`. */
  reserve(scope: string, gcra: Gcra, maxWaitMs: number): Promise<Reservation>;
  /** No token of `scope` before `ms` from now; then the bucket refills from empty. */
  pause(scope: string, gcra: Gcra, ms: number): Promise<void>;
}

/** Buckets in this process; `now` is the clock in ms (tests pass their own). */
export function createMemoryBucketStore(now: () => number = () => performance.now()): BucketStore {
  const tat = new Map<string, number>();
  return {
    shared: false,
    async reserve(scope, gcra, maxWaitMs) {
      const t = now();
      const base = Math.max(tat.get(scope) ?? t, t);
      const waitMs = base - t - gcra.toleranceMs;
      if (waitMs > maxWaitMs) return { reserved: false, waitMs };
      tat.set(scope, base + gcra.intervalMs);
      return { reserved: true, waitMs: Math.max(0, waitMs) };
    },
    async pause(scope, gcra, ms) {
      const t = now();
      tat.set(scope, Math.max(tat.get(scope) ?? t, t + ms + gcra.toleranceMs));
    },
  };
}

/** The message of a call refused for budget. */
export const BUDGET_EXHAUSTED = 'rate limit budget exhausted';

/** A call refused by pacing: nothing was sent; resilience neither retries it nor counts it against the vendor. */
export class RateLimitRefusal extends GatewayError {
  constructor(provider: string, why: string, retryAfter?: number) {
    super(`${provider}: ${why}; nothing was sent`, {
      code: 'UPSTREAM_UNAVAILABLE',
      provider,
      nothingSent: true,
      details: { attempts: 0, ...(retryAfter !== undefined && { retryAfter }) },
    });
  }
}

export interface Pacer {
  /**
   * Takes a token before one HTTP exchange, waiting at most `maxWaitMs` (what is left of the
   * call's deadline); throws a RateLimitRefusal when the token comes later or the store fails.
   */
  take(maxWaitMs: number, signal?: AbortSignal): Promise<void>;
  /** Told of every answer: a 429 or a `Remaining` of 0 in the vendor's headers pauses the connection. */
  observe(status: number, headers: Headers): void;
}

export interface PacerOptions {
  store: BucketStore;
  metrics?: Pick<Metrics, 'rateLimitWait' | 'rateLimitRefused' | 'rateLimited'>;
  /** The clock of waits and pauses, in ms (default `performance.now`). */
  now?: () => number;
  /** The wall clock, epoch ms (default `Date.now`): for a reset or `Retry-After` given as a time of day. */
  wallNow?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

/** The first pause after a 429 with neither `Retry-After` nor a reset; it doubles per consecutive 429, up to MAX_PAUSE_MS. */
export const FIRST_PAUSE_MS = 1000;
export const MAX_PAUSE_MS = 60_000;
/**
 * The longest pause a vendor's answer may start: it stops every call of the connection, so a misread
 * or hostile header must not stall it for hours (the longest documented wait is Cloudflare's 5 minutes).
 */
export const MAX_SIGNAL_PAUSE_MS = 15 * 60_000;

/**
 * The bucket's name: the vendor account (kind, base URL and a digest of the credentials), so
 * two connections on one credential share one budget and replicas with one config agree.
 */
export function bucketScope(config: Pick<ConnectionConfig, 'kind' | 'settings' | 'adapter'>): string {
  const secrets = config.adapter.secretConfigFields.map((f) => String(config.settings[f] ?? ''));
  const digest = createHash('sha256').update(JSON.stringify(secrets)).digest('hex').slice(0, 16);
  return `${config.kind}:${config.settings.baseUrl}:${digest}`;
}

/**
 * The pacer of one connection; undefined when its `rateLimit` is false. With a budget it takes a
 * token per exchange; with `'signals'` (no budget of its own) it only waits out the vendor's pauses.
 */
export function createPacer(config: ConnectionConfig, options: PacerOptions): Pacer | undefined {
  const rate = config.rateLimit;
  if (rate === false) return undefined;
  const gcra = rate === 'signals' ? undefined : gcraOf(rate);
  const dialect = config.adapter.rateLimitHeaders;
  const scope = bucketScope(config);
  const now = options.now ?? (() => performance.now());
  const wallNow = options.wallNow ?? (() => Date.now());
  const labels = { provider: config.name, kind: config.kind };
  // The vendor's pause, known here at once (a waiter that already holds a token waits it out too).
  let pausedUntil = 0;
  let pauseMs = 0;

  const pause = (ms: number) => {
    const capped = Math.min(ms, MAX_SIGNAL_PAUSE_MS);
    pausedUntil = Math.max(pausedUntil, now() + capped);
    if (!gcra) return;
    options.store
      .pause(scope, gcra, capped)
      .catch((err: Error) => options.log?.warn({ provider: config.name, err: err.message }, 'could not record a rate-limit pause in the shared store'));
  };
  // A refusal for budget: counted, with when to try again when that is known.
  const refuse = (why: string, waitMs?: number): never => {
    options.metrics?.rateLimitRefused.inc(labels);
    throw new RateLimitRefusal(config.name, why, waitMs === undefined ? undefined : Math.max(1, Math.ceil(waitMs / 1000)));
  };

  // Whether the last reservation found the store unreachable (its outage is logged once).
  let storeDown = false;
  return {
    async take(maxWaitMs, signal) {
      const started = now();
      // Without a budget and with nothing paused: no store, no wait.
      if (!gcra && started >= pausedUntil) return;
      for (;;) {
        const left = maxWaitMs - (now() - started);
        const pausedFor = pausedUntil - now();
        if (pausedFor > left)
          refuse(`${BUDGET_EXHAUSTED} (the vendor's limit pauses this connection for ${Math.ceil(pausedFor)} ms more, after the call's deadline)`, pausedFor);
        if (!gcra) {
          if (pausedFor > 0 && !(await sleep(pausedFor, signal)))
            throw new RateLimitRefusal(config.name, `${BUDGET_EXHAUSTED} (the call ended while waiting out the vendor's pause)`);
          if (now() >= pausedUntil) {
            options.metrics?.rateLimitWait.observe(labels, (now() - started) / 1000);
            return;
          }
          continue;
        }
        let r: Reservation;
        try {
          r = await options.store.reserve(scope, gcra, left);
        } catch (err) {
          // Once per outage, not once per refused call: an outage must not flood the log.
          if (!storeDown)
            options.log?.warn({ provider: config.name, err: (err as Error).message }, 'the shared rate-limit store cannot be reached: failing closed');
          storeDown = true;
          return refuse('rate limit budget unavailable (the shared rate-limit store cannot be reached)');
        }
        storeDown = false;
        if (!r.reserved) refuse(`${BUDGET_EXHAUSTED} (next token in ${Math.ceil(r.waitMs)} ms, after the call's deadline)`, r.waitMs);
        if (r.waitMs > 0 && !(await sleep(r.waitMs, signal)))
          throw new RateLimitRefusal(config.name, `${BUDGET_EXHAUSTED} (the call ended while waiting for a token)`);
        if (now() >= pausedUntil) {
          options.metrics?.rateLimitWait.observe(labels, (now() - started) / 1000);
          return;
        }
      }
    },
    observe(status, headers) {
      const said: RateLimitSignal = dialect ? readRateLimitHeaders(dialect, headers, wallNow()) : {};
      if (status === 429) {
        options.metrics?.rateLimited.inc(labels);
        const retryAfter = parseRetryAfter(headers.get('retry-after'), wallNow());
        if (retryAfter !== undefined) pauseMs = retryAfter * 1000;
        else if (said.resetMs !== undefined) pauseMs = said.resetMs;
        else pauseMs = Math.min(MAX_PAUSE_MS, pauseMs ? pauseMs * 2 : FIRST_PAUSE_MS);
        pause(pauseMs);
        return;
      }
      pauseMs = 0;
      // The last request of the window was spent: none until it resets (unknown: one token's interval).
      if (said.remaining === 0) pause(said.resetMs ?? gcra?.intervalMs ?? FIRST_PAUSE_MS);
    },
  };
}

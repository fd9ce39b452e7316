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
 * A 429 pauses the whole bucket for the `Retry-After` (else a doubling backoff from 1 s), and a
 * `RateLimit-Remaining: 0` (Atlas v2) drains it. The state lives in this process (memory store)
 * or, with a PostgreSQL audit store, in a row every replica shares (src/audit/postgres.ts): then
 * the clock is the database's. A replica that cannot reach the shared store fails closed
 * (UPSTREAM_UNAVAILABLE): pacing that cannot be shared cannot promise the vendor's budget.
 */
import { createHash } from 'node:crypto';
import type { ConnectionConfig } from '../config/schema.ts';
import { GatewayError, parseRetryAfter } from '../core/errors.ts';
import type { Metrics } from '../observability/metrics.ts';

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
  /** Told of every answer: a 429 pauses the bucket, `RateLimit-Remaining: 0` drains it. */
  observe(status: number, headers: Headers): void;
}

export interface PacerOptions {
  store: BucketStore;
  metrics?: Pick<Metrics, 'rateLimitWait' | 'rateLimitRefused' | 'rateLimited'>;
  now?: () => number;
  log?: { warn(obj: object, msg: string): void };
}

/** The first pause after a 429 without `Retry-After`; it doubles per consecutive 429, up to MAX_PAUSE_MS. */
export const FIRST_PAUSE_MS = 1000;
export const MAX_PAUSE_MS = 60_000;

/**
 * The bucket's name: the vendor account (kind, base URL and a digest of the credentials), so
 * two connections on one credential share one budget and replicas with one config agree.
 */
export function bucketScope(config: Pick<ConnectionConfig, 'kind' | 'settings' | 'adapter'>): string {
  const secrets = config.adapter.secretConfigFields.map((f) => String(config.settings[f] ?? ''));
  const digest = createHash('sha256').update(JSON.stringify(secrets)).digest('hex').slice(0, 16);
  return `${config.kind}:${config.settings.baseUrl}:${digest}`;
}

/** The pacer of one connection; undefined when its `rateLimit` is off. */
export function createPacer(config: ConnectionConfig, options: PacerOptions): Pacer | undefined {
  const rate = config.rateLimit;
  if (!rate) return undefined;
  const gcra = gcraOf(rate);
  const scope = bucketScope(config);
  const now = options.now ?? (() => performance.now());
  const labels = { provider: config.name, kind: config.kind };
  // A pause seen here after a token was reserved: the waiter takes another token once it is over.
  let pausedUntil = 0;
  let pauseMs = 0;

  const pause = (ms: number) => {
    pausedUntil = Math.max(pausedUntil, now() + ms);
    options.store
      .pause(scope, gcra, ms)
      .catch((err: Error) => options.log?.warn({ provider: config.name, err: err.message }, 'could not record a rate-limit pause in the shared store'));
  };

  return {
    async take(maxWaitMs, signal) {
      const started = now();
      for (;;) {
        const left = maxWaitMs - (now() - started);
        let r: Reservation;
        try {
          r = await options.store.reserve(scope, gcra, left);
        } catch (err) {
          options.metrics?.rateLimitRefused.inc(labels);
          options.log?.warn({ provider: config.name, err: (err as Error).message }, 'the shared rate-limit store cannot be reached: failing closed');
          throw new RateLimitRefusal(config.name, 'rate limit budget unavailable (the shared rate-limit store cannot be reached)');
        }
        if (!r.reserved) {
          options.metrics?.rateLimitRefused.inc(labels);
          throw new RateLimitRefusal(
            config.name,
            `${BUDGET_EXHAUSTED} (next token in ${Math.ceil(r.waitMs)} ms, after the call's deadline)`,
            Math.max(1, Math.ceil(r.waitMs / 1000)),
          );
        }
        if (r.waitMs > 0 && !(await sleep(r.waitMs, signal))) {
          throw new RateLimitRefusal(config.name, `${BUDGET_EXHAUSTED} (the call ended while waiting for a token)`);
        }
        if (now() >= pausedUntil) {
          options.metrics?.rateLimitWait.observe(labels, (now() - started) / 1000);
          return;
        }
      }
    },
    observe(status, headers) {
      if (status === 429) {
        options.metrics?.rateLimited.inc(labels);
        const retryAfter = parseRetryAfter(headers.get('retry-after'));
        pauseMs = retryAfter !== undefined ? retryAfter * 1000 : Math.min(MAX_PAUSE_MS, pauseMs ? pauseMs * 2 : FIRST_PAUSE_MS);
        pause(pauseMs);
        return;
      }
      pauseMs = 0;
      const remaining = headers.get('ratelimit-remaining') ?? headers.get('x-ratelimit-remaining');
      if (remaining !== null && remaining.trim() === '0') pause(gcra.intervalMs);
    },
  };
}

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(ok);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

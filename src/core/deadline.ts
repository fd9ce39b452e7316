/**
 * One call's deadline (a connection's `deadlineMs`): started when the call starts, it bounds every
 * wait of the call — the per-key lock (in-process and PostgreSQL), the bulkhead queue, every
 * attempt and the backoff between them — so none of them gets a deadline of its own.
 */
import { realClock, type Clock } from './clock.ts';

/** The reason a call's signal aborts when its deadline passes. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  readonly deadlineMs: number;
  constructor(deadlineMs: number) {
    super(`no answer within the deadline of ${deadlineMs} ms`);
    this.deadlineMs = deadlineMs;
  }
}

export interface Deadline {
  /** The whole budget, in ms. */
  readonly ms: number;
  /** Aborts, with a DeadlineExceededError, when the deadline passes. */
  readonly signal: AbortSignal;
  /** Milliseconds left; 0 once it has passed. */
  remaining(): number;
  /** Stops its timer: call once the call is over. */
  dispose(): void;
}

/** A deadline `ms` from now on `clock` (tests pass their own). */
export function startDeadline(ms: number, clock: Clock = realClock): Deadline {
  const endsAt = clock.now() + ms;
  const controller = new AbortController();
  const timer = clock.setTimeout(() => controller.abort(new DeadlineExceededError(ms)), ms);
  return {
    ms,
    signal: controller.signal,
    remaining: () => (controller.signal.aborted ? 0 : Math.max(0, endsAt - clock.now())),
    dispose: () => clock.clearTimeout(timer),
  };
}

/**
 * Resolves or rejects as `work` does, unless the deadline passes first: then rejects with
 * `onPassed()`, and `abandon` gets the value `work` resolves with later (to give back a resource).
 */
export function withinDeadline<T>(work: Promise<T>, deadline: Deadline, onPassed: () => Error, abandon?: (value: T) => void): Promise<T> {
  const { signal } = deadline;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const onAbort = () => {
      settled = true;
      reject(onPassed());
      work.then(abandon, () => undefined);
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        if (!settled) reject(err);
      },
    );
  });
}

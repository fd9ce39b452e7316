/**
 * Serialises work per key: Tyk's update is a read-modify-write of the whole session, so two
 * concurrent updates of one key must not interleave or the later PUT silently drops the earlier.
 *
 * The lock is pluggable: this in-process one always; with the PostgreSQL audit store, also a
 * transaction-scoped advisory lock (src/audit/postgres.ts) chained inside it, so the rule holds
 * across gateway replicas (src/core/connections.ts).
 */
import { withinDeadline, type Deadline } from './deadline.ts';

export interface KeyLock {
  /**
   * Runs `work` holding the lock on `key`. The wait for it counts against the call's `deadline`:
   * past it, KeyLockError('timeout') and `work` never runs. `work` gets a signal that aborts (reason
   * a KeyLockError('lost')) if the lock is lost while held — its database connection dropped.
   */
  run<T>(key: string, deadline: Deadline, work: (lost?: AbortSignal) => Promise<T>): Promise<T>;
}

/** The in-process lock: callers of one key queue in order, each waiting within its own deadline. */
export function createKeyLock(): KeyLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async run<T>(key: string, deadline: Deadline, work: (lost?: AbortSignal) => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const settled = previous.then(
        () => undefined,
        () => undefined,
      );
      const result = withinDeadline(settled, deadline, () => lockWaitTimeout(deadline)).then(() => work());
      // The next caller waits for every holder before it, including one this caller gave up on.
      const tail = previous.then(() => result).catch(() => undefined);
      tails.set(key, tail);
      try {
        return await result;
      } finally {
        // The last one out cleans up, so the map holds only keys with work queued.
        if (tails.get(key) === tail) tails.delete(key);
      }
    },
  };
}

/** The call's deadline passed while it waited for the lock. */
export function lockWaitTimeout(deadline: Deadline): KeyLockError {
  return new KeyLockError('timeout', `other updates of this key held its lock past this call's deadline of ${deadline.ms} ms`);
}

/**
 * The lock could not be taken (its store is unreachable, or other holders kept it past the call's
 * deadline), or it was lost while held (its database connection dropped).
 */
export class KeyLockError extends Error {
  override readonly name = 'KeyLockError';
  readonly kind: 'unavailable' | 'timeout' | 'lost';
  constructor(kind: 'unavailable' | 'timeout' | 'lost', message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Both locks, outer first: the in-process lock queues this process's callers, so only one of
 * them at a time holds (or waits on) the cross-process lock and its database connection.
 */
export function chainKeyLocks(outer: KeyLock, inner: KeyLock): KeyLock {
  return { run: (key, deadline, work) => outer.run(key, deadline, () => inner.run(key, deadline, work)) };
}

/**
 * Serialises work per key: Tyk's update is a read-modify-write of the whole session, so two
 * concurrent updates of one key must not interleave or the later PUT silently drops the earlier.
 *
 * The lock is pluggable: this in-process one always; with the PostgreSQL audit store, also a
 * transaction-scoped advisory lock (src/audit/postgres.ts) chained inside it, so the rule holds
 * across gateway replicas (src/connections.ts).
 */
export interface KeyLock {
  run<T>(key: string, work: () => Promise<T>): Promise<T>;
}

/**
 * The in-process lock. A caller waits at most `waitMs` for the holders queued before it (each one
 * bounded by its own deadline, but a queue of them is not); then it gives up without running.
 */
export function createKeyLock(waitMs = Number.POSITIVE_INFINITY): KeyLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const result = waitFor(previous, waitMs).then(work);
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

/** Resolves when `previous` settles, or rejects with a KeyLockError after `ms`. */
function waitFor(previous: Promise<unknown>, ms: number): Promise<void> {
  const settled = previous.then(
    () => undefined,
    () => undefined,
  );
  if (!Number.isFinite(ms)) return settled;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KeyLockError('timeout', `another update of this key held it longer than ${ms} ms`)), ms);
  });
  return Promise.race([settled, timeout]).finally(() => clearTimeout(timer));
}

/** The lock could not be taken: its store is unreachable, or another holder kept it too long. */
export class KeyLockError extends Error {
  override readonly name = 'KeyLockError';
  readonly kind: 'unavailable' | 'timeout';
  constructor(kind: 'unavailable' | 'timeout', message: string) {
    super(message);
    this.kind = kind;
  }
}

/**
 * Both locks, outer first: the in-process lock queues this process's callers, so only one of
 * them at a time holds (or waits on) the cross-process lock and its database connection.
 */
export function chainKeyLocks(outer: KeyLock, inner: KeyLock): KeyLock {
  return { run: (key, work) => outer.run(key, () => inner.run(key, work)) };
}

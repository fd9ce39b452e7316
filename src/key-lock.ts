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

export function createKeyLock(): KeyLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    async run<T>(key: string, work: () => Promise<T>): Promise<T> {
      const previous = tails.get(key) ?? Promise.resolve();
      const result = previous.then(work, work);
      const tail = result.catch(() => undefined);
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

/**
 * Serialises work per key: Tyk's update is a read-modify-write of the whole session, so two
 * concurrent updates of one key must not interleave or the later PUT silently drops the earlier.
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

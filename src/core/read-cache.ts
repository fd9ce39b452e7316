/**
 * Cached reads for dashboards (`cache: { ttlSeconds }` of a connection): `apiKey` answers and
 * `apiKeys` pages kept in memory for that long, at most MAX_ENTRIES per connection (least
 * recently used dropped first). Concurrent identical reads from different requests share one
 * vendor call (single flight). keygate's own writes replace the key's entry with the written value
 * and drop every cached page at once; a read that was in flight during a write is not stored.
 * Only reads use it: an update (Tyk's read-modify-write included) always reads the vendor afresh.
 */
export const MAX_ENTRIES = 1000;

export interface ReadCache {
  /** The cached value of `key`, else `load()`'s (shared with any identical load in flight), then cached. */
  through<T>(key: string, load: () => Promise<T>): Promise<T>;
  /** A write to key `id`: its entry becomes `value` (or is dropped), every page is dropped. */
  written(id: string, value?: unknown): void;
}

/** The entry names: one per key id, one per page asked for. */
export const cacheKey = {
  key: (id: string) => `key\u0000${id}`,
  page: (first: number, after: string | null | undefined) => `page\u0000${first}\u0000${after ?? ''}`,
};

export function createReadCache(ttlMs: number, options: { maxEntries?: number; now?: () => number } = {}): ReadCache {
  const maxEntries = options.maxEntries ?? MAX_ENTRIES;
  const now = options.now ?? (() => Date.now());
  const entries = new Map<string, { value: unknown; expires: number }>();
  const inFlight = new Map<string, Promise<unknown>>();
  // Bumped by every write: a load that started before it does not store what it read.
  let epoch = 0;

  const store = (key: string, value: unknown) => {
    entries.delete(key);
    entries.set(key, { value, expires: now() + ttlMs });
    while (entries.size > maxEntries) entries.delete(entries.keys().next().value!);
  };

  return {
    through<T>(key: string, load: () => Promise<T>): Promise<T> {
      const hit = entries.get(key);
      if (hit && hit.expires > now()) {
        entries.delete(key);
        entries.set(key, hit);
        return Promise.resolve(hit.value as T);
      }
      if (hit) entries.delete(key);
      const flying = inFlight.get(key);
      if (flying) return flying as Promise<T>;
      const started = epoch;
      const p = load()
        .then((value) => {
          if (epoch === started) store(key, value);
          return value;
        })
        .finally(() => {
          if (inFlight.get(key) === p) inFlight.delete(key);
        });
      inFlight.set(key, p);
      return p;
    },
    written(id, value) {
      epoch += 1;
      inFlight.clear();
      for (const key of [...entries.keys()]) if (key.startsWith('page\u0000')) entries.delete(key);
      if (value === undefined) entries.delete(cacheKey.key(id));
      else store(cacheKey.key(id), value);
    },
  };
}

/**
 * A live provider connection: its config, its adapter, its HTTP client and its per-key lock.
 * Built once from the Config; closed on shutdown.
 */
import type { Config, ConnectionConfig } from '../config/schema.ts';
import { realClock, type Clock } from './clock.ts';
import { statusClass, type Metrics } from '../observability/metrics.ts';
import { createReadCache, type ReadCache } from './read-cache.ts';
import { chainKeyLocks, createKeyLock, type KeyLock } from './key-lock.ts';
import { createUpstreamClient, type UpstreamClient } from '../upstream/client.ts';
import { createPacer, createMemoryBucketStore, type BucketStore } from '../upstream/rate-limit.ts';
import { createRedisBucketStores, type RedisBucketStores } from '../upstream/redis-buckets.ts';
import { attemptDeadline, createResilience, type Resilience } from '../upstream/resilience.ts';

export interface Connection extends ConnectionConfig {
  client: UpstreamClient;
  lock: KeyLock;
  /** Deadlines, retries, circuit breaker and bulkhead for this connection. */
  resilience: Resilience;
  /** Cached reads (`cache.ttlSeconds`); undefined when off. */
  readCache?: ReadCache;
  /** What its deadlines and waits run on. */
  clock: Clock;
}

export interface Connections {
  get(name: string): Connection | undefined;
  list(): Connection[];
  /** Every configured credential, for redaction. */
  secrets: readonly string[];
  /** Closes every pool once its calls are done; `force` aborts those still running. */
  close(force?: boolean): Promise<void>;
}

export interface ConnectionsOptions {
  /**
   * A per-key lock shared with other gateway replicas (the PostgreSQL audit store's advisory
   * locks), taken inside the in-process one. `scope` names the vendor account: kind and base URL.
   */
  sharedLock?: (scope: string) => KeyLock;
  /** Where rate-limit buckets live (shared by replicas with PostgreSQL); default: this process. Kept across reloads. */
  buckets?: BucketStore;
  /**
   * The Redis stores of connections naming one (`rateLimit.store`), kept across reloads; absent:
   * these connections open their own and close them with themselves.
   */
  redisBuckets?: RedisBucketStores;
  log?: { warn(obj: object, msg: string): void; info?(obj: object, msg: string): void };
  /** The time source of deadlines, backoff and breaker cooldowns (default: the real one). */
  clock?: Clock;
}

export function createConnections(config: Config, metrics?: Metrics, options: ConnectionsOptions = {}): Connections {
  const byName = new Map<string, Connection>();
  const buckets = options.buckets ?? createMemoryBucketStore();
  const redisBuckets = options.redisBuckets ?? createRedisBucketStores(options.log);
  const clock = options.clock ?? realClock;
  for (const c of config.providers.values()) {
    const labels = { provider: c.name, kind: c.kind };
    const store = typeof c.rateLimit === 'object' && c.rateLimit.store !== undefined ? redisBuckets.at(c.rateLimit.store) : buckets;
    const pacer = createPacer(c, { store, metrics, log: options.log });
    const client = createUpstreamClient({
      baseUrl: c.settings.baseUrl,
      auth: c.adapter.auth(c.settings),
      timeoutMs: c.timeoutMs,
      // The bulkhead keeps at most maxConcurrency calls in flight, so as many sockets suffice.
      maxConnections: c.maxConcurrency,
      onExchange: metrics
        ? ({ method, status, seconds }) => {
            metrics.upstreamRequests.inc({ ...labels, method, status_class: status === undefined ? 'error' : statusClass(status) });
            metrics.upstreamDuration.observe({ ...labels, method }, seconds);
          }
        : undefined,
      // Every exchange takes a token, waiting at most what is left of its call's deadline.
      beforeExchange: pacer && ((signal) => pacer.take(attemptDeadline()?.remaining() ?? c.deadlineMs, signal)),
      onAnswer: pacer && ((status, headers) => pacer.observe(status, headers)),
    });
    const shared = options.sharedLock?.(`${c.kind}:${c.settings.baseUrl}`);
    const lock = shared ? chainKeyLocks(createKeyLock(), shared) : createKeyLock();
    const readCache = c.cache ? createReadCache(c.cache.ttlSeconds * 1000) : undefined;
    byName.set(c.name, { ...c, client, lock, resilience: createResilience(c, { metrics, clock }), clock, readCache });
  }
  return {
    get: (name) => byName.get(name),
    list: () => [...byName.values()],
    secrets: config.secrets,
    close: async (force) => {
      await Promise.all([...byName.values()].map((c) => c.client.close(force)));
      if (!options.redisBuckets) await redisBuckets.close();
    },
  };
}

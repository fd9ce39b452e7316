/**
 * The real Redis the tests use: 127.0.0.1:6379 (KEYGATE_TEST_REDIS_URL overrides). Tests put their
 * buckets under scopes of their own (`uniqueRedisScope`) and delete only those keys afterwards,
 * so files and runs sharing the server never collide. Redis is never mocked.
 */
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { REDIS_KEY_PREFIX } from '../src/upstream/redis-buckets.ts';

export const TEST_REDIS_URL = process.env.KEYGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** A bucket scope prefix no other test run or file uses. */
export function uniqueRedisScope(label: string): string {
  return `kgtest:${label}:${process.pid}:${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs `fn` on a client of its own (not keygate's). */
export async function withRedis<T>(fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(TEST_REDIS_URL, { lazyConnect: true });
  await redis.connect();
  try {
    return await fn(redis);
  } finally {
    await redis.quit();
  }
}

/** Deletes the bucket keys of every scope starting with `scopePrefix`. */
export async function deleteBuckets(scopePrefix: string): Promise<void> {
  await withRedis(async (redis) => {
    const keys: string[] = [];
    for await (const batch of redis.scanStream({ match: `${REDIS_KEY_PREFIX}${scopePrefix}*`, count: 1000 })) keys.push(...(batch as string[]));
    if (keys.length) await redis.del(...keys);
  });
}

export interface RedisRelay {
  url: string;
  /** Client connections open through the relay. */
  open(): number;
  /** Drops every connection and stops accepting (a Redis gone away). */
  cut(): Promise<void>;
  /** Accepts again on the same port (the Redis back). */
  restore(): Promise<void>;
  close(): Promise<void>;
}

/** A TCP relay to the test Redis on a port of its own, standing in for a Redis that goes away and comes back. */
export async function startRedisRelay(): Promise<RedisRelay> {
  const target = new URL(TEST_REDIS_URL);
  const clients = new Set<Socket>();
  const upstreams = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(Number(target.port || 6379), target.hostname);
    for (const [set, s] of [
      [clients, client],
      [upstreams, upstream],
    ] as const) {
      set.add(s);
      s.on('error', () => undefined).on('close', () => set.delete(s));
    }
    client.pipe(upstream).pipe(client);
  });
  const listen = (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const cut = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of [...clients, ...upstreams]) s.destroy();
    await closed;
  };
  return {
    url: `redis://127.0.0.1:${port}`,
    open: () => clients.size,
    cut,
    restore: () => listen(port),
    close: () => (server.listening ? cut() : Promise.resolve()),
  };
}

/**
 * Rate-limit buckets in Redis (`rateLimit.store: redis://…`), shared by every replica naming that
 * Redis: a key per bucket, `keygate:rate-limit:<scope>`, holding its GCRA theoretical arrival time
 * (src/upstream/rate-limit.ts) in ms of the Redis server's clock, so replicas' clocks need not
 * agree. A reservation is one Lua script (EVALSHA), atomic on the server. The key expires once
 * the bucket is full again (an absent key is a full bucket), so idle buckets disappear.
 *
 * An unreachable Redis fails fast and the pacer fails closed, as with PostgreSQL: commands are
 * never queued while disconnected, each has a timeout, and the client reconnects in the background.
 */
import { once } from 'node:events';
import { Redis, type Result } from 'ioredis';
import { redactText, redactUrl } from '../core/redact.ts';
import type { BucketStore, Gcra } from './rate-limit.ts';

/** A bucket command (and a first connection) never waits longer than this: then the call fails closed. */
const REDIS_COMMAND_TIMEOUT_MS = 2_000;
/** Reconnection attempts back off up to this. */
const MAX_RECONNECT_DELAY_MS = 2_000;

export const REDIS_KEY_PREFIX = 'keygate:rate-limit:';

/**
 * KEYS[1]: the bucket. ARGV: intervalMs, toleranceMs, then `reserve` and the longest wait allowed,
 * or `pause` and the pause in ms. Returns {1 if reserved, the wait for the next token in ms}.
 * Numbers go back and forth as strings: a Lua number returned to Redis is cut to an integer.
 */
const BUCKET_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1])) or now
local interval, tolerance, arg = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
local base = math.max(tat, now)
local wait = base - now - tolerance
local reserved = 0
if ARGV[3] == 'reserve' then
  if wait > arg then return {0, string.format('%.17g', wait)} end
  tat = base + interval
  reserved = 1
else
  tat = math.max(tat, now + arg + tolerance)
end
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.max(1, math.ceil(tat - now)))
return {reserved, string.format('%.17g', wait)}
`;

declare module 'ioredis' {
  interface RedisCommander<Context> {
    keygateBucket(key: string, intervalMs: number, toleranceMs: number, op: 'reserve' | 'pause', ms: number): Result<[number, string], Context>;
  }
}

interface Log {
  warn(obj: object, msg: string): void;
  info?(obj: object, msg: string): void;
}

/** The Redis bucket stores of one gateway: one client per distinct URL, shared by its connections. */
export interface RedisBucketStores {
  /** The store at `url` (a client is opened on first use and kept across config reloads). */
  at(url: string): BucketStore;
  /** Quits every client. */
  close(): Promise<void>;
}

export function createRedisBucketStores(log?: Log): RedisBucketStores {
  const opened = new Map<string, { client: Redis; store: BucketStore }>();
  return {
    at(url) {
      let entry = opened.get(url);
      if (!entry) {
        const client = openClient(url, log);
        entry = { client, store: createRedisBucketStore(client) };
        opened.set(url, entry);
      }
      return entry.store;
    },
    async close() {
      await Promise.all([...opened.values()].map((e) => closeClient(e.client)));
      opened.clear();
    },
  };
}

/** A client that fails fast while Redis is away and reconnects in the background; outages are logged once each. */
function openClient(url: string, log?: Log): Redis {
  const client = new Redis(url, {
    // While disconnected a command fails at once instead of waiting in a queue.
    enableOfflineQueue: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: REDIS_COMMAND_TIMEOUT_MS,
    // A command in flight when the connection drops fails; resent, a reservation could count twice.
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (times) => Math.min(times * 100, MAX_RECONNECT_DELAY_MS),
    connectionName: 'keygate-rate-limit',
  });
  client.defineCommand('keygateBucket', { numberOfKeys: 1, lua: BUCKET_SCRIPT });
  const password = decodeURIComponent(new URL(url).password);
  const shown = redactUrl(url);
  let down = false;
  // Without an 'error' listener a lost Redis would be reported as unhandled on every attempt.
  client.on('error', (err: NodeJS.ErrnoException) => {
    if (down) return;
    down = true;
    const message = redactText(err.message || err.code || String(err), password ? [password, url] : [url]);
    log?.warn({ store: shown, err: message }, 'the Redis rate-limit store cannot be reached: calls paced by it fail closed until it is back');
  });
  client.on('ready', () => {
    if (!down) return;
    down = false;
    log?.info?.({ store: shown }, 'the Redis rate-limit store is reachable again');
  });
  return client;
}

/** The store on one client (owned by the caller). */
export function createRedisBucketStore(client: Redis): BucketStore {
  // One wait per connection attempt, however many calls arrive meanwhile.
  let attempt: Promise<void> | undefined;
  /**
   * Resolves when the client can send. A connection attempt in progress (the first one at start-up)
   * is waited for, within the command timeout; a client between attempts rejects at once.
   */
  const connected = (): Promise<void> => {
    const { status } = client;
    if (status === 'ready') return Promise.resolve();
    if (status !== 'connecting' && status !== 'connect') return Promise.reject(new Error(`Redis is not connected (${status})`));
    // Rejects on the client's 'error' (the attempt failed) or after the timeout.
    attempt ??= once(client, 'ready', { signal: AbortSignal.timeout(REDIS_COMMAND_TIMEOUT_MS) })
      .then(() => undefined)
      .finally(() => {
        attempt = undefined;
      });
    return attempt;
  };
  const run = async (scope: string, gcra: Gcra, op: 'reserve' | 'pause', ms: number) => {
    await connected();
    return client.keygateBucket(`${REDIS_KEY_PREFIX}${scope}`, gcra.intervalMs, gcra.toleranceMs, op, ms);
  };
  return {
    shared: true,
    async reserve(scope, gcra, maxWaitMs) {
      const [reserved, wait] = await run(scope, gcra, 'reserve', maxWaitMs);
      const waitMs = Number(wait);
      return reserved === 1 ? { reserved: true, waitMs: Math.max(0, waitMs) } : { reserved: false, waitMs };
    },
    async pause(scope, gcra, ms) {
      await run(scope, gcra, 'pause', ms);
    },
  };
}

async function closeClient(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    try {
      await client.quit();
      return;
    } catch {
      // Not answered in time: drop the connection below.
    }
  }
  client.disconnect();
}

/**
 * Issue 19 part 3: cached reads. The cache itself with a fake clock (expiry, bound, single flight,
 * a write during a read); end to end against the Tyk simulator: what the vendor received for
 * repeated and concurrent reads, invalidation by keygate's own writes, `fetchedAt`, and that Tyk's
 * read-modify-write never uses a cached read.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { resolveConfig } from '../src/config/schema.ts';
import { cacheKey, createReadCache } from '../src/core/read-cache.ts';
import { registerSecret, startGateway, type TestGateway } from './harness.ts';

const SECRET = 'tyk_cache_admin_secret_4f3e2d';
registerSecret(SECRET);
const ORG = '5e9d9544a1dcd60001d0ed20';
const KEY = `${ORG}00000000000000000000000000000001`;
const OTHER = `${ORG}00000000000000000000000000000002`;

describe('the read cache (fake clock)', () => {
  it('serves a value until its ttl passes, then loads again', async () => {
    let t = 0;
    const cache = createReadCache(5000, { now: () => t });
    let loads = 0;
    const load = async () => ++loads;
    expect(await cache.through('a', load)).toBe(1);
    t = 4999;
    expect(await cache.through('a', load)).toBe(1);
    t = 5000;
    expect(await cache.through('a', load)).toBe(2);
  });

  it('shares one load among concurrent identical reads, and keeps at most maxEntries (least recently used dropped)', async () => {
    const cache = createReadCache(60_000, { maxEntries: 2 });
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const load = async () => {
      loads += 1;
      await gate;
      return loads;
    };
    const all = Promise.all([cache.through('a', load), cache.through('a', load), cache.through('a', load)]);
    release();
    expect(await all).toEqual([1, 1, 1]);
    expect(loads).toBe(1);
    await cache.through('b', async () => 'b');
    await cache.through('a', load); // a is now the most recently used
    await cache.through('c', async () => 'c'); // drops b
    let reloaded = false;
    await cache.through('b', async () => {
      reloaded = true;
      return 'b';
    });
    expect(reloaded).toBe(true);
  });

  it('a write replaces the key, drops every page, and a read in flight during it is not stored', async () => {
    const cache = createReadCache(60_000);
    await cache.through(cacheKey.page(10, null), async () => 'page-old');
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const inFlight = cache.through(cacheKey.key('k'), async () => {
      await gate;
      return 'stale';
    });
    cache.written('k', 'new');
    release();
    expect(await inFlight).toBe('stale');
    expect(await cache.through(cacheKey.key('k'), async () => 'loaded')).toBe('new');
    expect(await cache.through(cacheKey.page(10, null), async () => 'page-new')).toBe('page-new');
    cache.written('k');
    expect(await cache.through(cacheKey.key('k'), async () => 'loaded')).toBe('loaded');
  });

  it('cache.ttlSeconds is validated at start-up, naming the path', () => {
    expect(() =>
      resolveConfig({ providers: { t: { kind: 'tyk', baseUrl: 'http://127.0.0.1:9', adminSecret: SECRET, cache: { ttlSeconds: 0 } } }, audit: false }),
    ).toThrow(/providers\.t\.cache\.ttlSeconds: /);
    expect(() =>
      resolveConfig({ providers: { t: { kind: 'tyk', baseUrl: 'http://127.0.0.1:9', adminSecret: SECRET, cache: { ttl: 5 } } }, audit: false }),
    ).toThrow(/providers\.t\.cache/);
  });
});

describe('cached reads end to end (tyk)', () => {
  let sim: TykSimulator;
  let gw: TestGateway;
  const READ = `query($id: ID!) { apiKey(provider: "tyk", id: $id) { id name enabled fetchedAt } }`;
  const LIST = `{ apiKeys(provider: "tyk", first: 5) { edges { node { id name fetchedAt } } } }`;
  const gets = () => sim.requests.filter((r) => r.method === 'GET');

  beforeAll(async () => {
    sim = await createTykSimulator({ adminSecret: SECRET, keys: { [KEY]: demoSession('one', ['a']), [OTHER]: demoSession('two', ['b']) } });
    gw = await startGateway({
      providers: {
        tyk: { kind: 'tyk', baseUrl: sim.baseUrl, adminSecret: SECRET, cache: { ttlSeconds: 600 } },
        fresh: { kind: 'tyk', baseUrl: sim.baseUrl, adminSecret: SECRET },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await sim?.close();
  });
  beforeEach(async () => {
    // A write drops the cached entries and sets the key: start each test from a known state.
    await gw.gql(`mutation { updateApiKey(provider: "tyk", id: "${KEY}", patch: { name: "one" }) { id } }`);
    sim.reset();
  });

  it('repeated reads reach the vendor once; fetchedAt stays that of the vendor read', async () => {
    await gw.gql(`mutation { updateApiKey(provider: "tyk", id: "${OTHER}", patch: { name: "two" }) { id } }`);
    sim.reset();
    const a = await gw.gql(READ, { id: OTHER });
    const b = await gw.gql(READ, { id: OTHER });
    expect(a.body.data!.apiKey.name).toBe('two');
    expect(b.body.data!.apiKey).toEqual(a.body.data!.apiKey);
    expect(gets()).toHaveLength(0); // the write above already filled the entry
    const l1 = await gw.gql(LIST);
    const l2 = await gw.gql(LIST);
    expect(l2.body).toEqual(l1.body);
    expect(gets()).toHaveLength(1);
    // Without a cache every read is a vendor call, and fetchedAt is new each time.
    await gw.gql(`{ apiKey(provider: "fresh", id: "${OTHER}") { id } }`);
    await gw.gql(`{ apiKey(provider: "fresh", id: "${OTHER}") { id } }`);
    expect(gets()).toHaveLength(3);
  });

  it('concurrent identical reads from different requests share one vendor call', async () => {
    await gw.gql(`mutation { updateApiKey(provider: "fresh", id: "${OTHER}", patch: { name: "two" }) { id } }`); // not through the cache
    await gw.gql(`mutation { updateApiKey(provider: "tyk", id: "${KEY}", patch: { name: "one" }) { id } }`); // drops pages
    sim.reset();
    sim.inject(faults.delay(300, { method: 'GET' }));
    const answers = await Promise.all(Array.from({ length: 8 }, () => gw.gql(LIST)));
    expect(new Set(answers.map((r) => r.text)).size).toBe(1);
    expect(gets()).toHaveLength(1);
  });

  it("keygate's own write updates the key's entry and drops the pages at once", async () => {
    await gw.gql(READ, { id: KEY });
    await gw.gql(LIST);
    sim.reset();
    const upd = await gw.gql(`mutation { updateApiKey(provider: "tyk", id: "${KEY}", patch: { name: "renamed" }) { id fetchedAt } }`);
    expect(upd.body.errors).toBeUndefined();
    const after = sim.requests.length; // the read-modify-write: one GET and one PUT
    const read = await gw.gql(READ, { id: KEY });
    expect(read.body.data!.apiKey.name).toBe('renamed');
    expect(read.body.data!.apiKey.fetchedAt).toBe(upd.body.data!.updateApiKey.fetchedAt);
    expect(sim.requests).toHaveLength(after);
    const list = await gw.gql(LIST);
    expect(list.body.data!.apiKeys.edges.find((e: any) => e.node.id === KEY).node.name).toBe('renamed');
    expect(sim.requests).toHaveLength(after + 1);
  });

  it("Tyk's read-modify-write never uses a cached read", async () => {
    await gw.gql(READ, { id: KEY }); // cached: name "one", enabled
    // Someone else changes the key at the vendor.
    sim.sessions.get(KEY)!.is_inactive = true;
    sim.reset();
    const upd = await gw.gql(`mutation { updateApiKey(provider: "tyk", id: "${KEY}", patch: { name: "mine" }) { name enabled } }`);
    expect(upd.body.data!.updateApiKey).toEqual({ name: 'mine', enabled: false });
    expect(sim.requests.map((r) => r.method)).toEqual(['GET', 'PUT']);
    expect((sim.requests[1].body as any).is_inactive).toBe(true);
  });
});

/**
 * Vendors' documented rate-limit headers adjust the connection's pacing: the dialect each adapter
 * declares, reading it (pure), the pacer on a fake clock (with a budget and "signals only"), the
 * `kind: http` declaration's start-up checks, the simulators' vendor-side limits, and end to end over
 * HTTP per dialect (SendGrid epoch, Datadog and Confluent relative, Cloudflare structured, Atlas
 * remaining-only, a `kind: http` vendor declaring it in YAML). Counts and answers, never milliseconds.
 */
import { parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ATLAS_DEMO, createAtlasSimulator, type AtlasSimulator } from '../providers/atlas/simulator.ts';
import { CLOUDFLARE_DEMO, createCloudflareSimulator } from '../providers/cloudflare/simulator.ts';
import { CONFLUENT_DEMO, createConfluentSimulator } from '../providers/confluent/simulator.ts';
import { createDatadogSimulator, DATADOG_DEMO } from '../providers/datadog/simulator.ts';
import { providers } from '../providers/index.ts';
import { createSendGridSimulator, SENDGRID_DEMO } from '../providers/sendgrid/simulator.ts';
import type { BuiltinKind, RateLimitHeaders, RunningSimulator } from '../providers/types.ts';
import type { SimRateLimitOptions } from '../sandbox/simulator-kit.ts';
import { ConfigError, resolveConfig, type ConnectionConfig } from '../src/config/schema.ts';
import { readRateLimitHeaders } from '../src/upstream/rate-limit-headers.ts';
import { createMemoryBucketStore, createPacer, FIRST_PAUSE_MS, MAX_SIGNAL_PAUSE_MS, RateLimitRefusal, type BucketStore } from '../src/upstream/rate-limit.ts';
import { recordSeen, registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

registerSecret(SENDGRID_DEMO.token, DATADOG_DEMO.apiKey, DATADOG_DEMO.appKey, CONFLUENT_DEMO.apiKey, CONFLUENT_DEMO.apiSecret, CLOUDFLARE_DEMO.token);
registerSecret(ATLAS_DEMO.clientSecret, ATLAS_DEMO.privateKey);

const WALL = 1_700_000_000_000;
const h = (init: Record<string, string>) => new Headers(init);

describe('the dialects the vendors document', () => {
  it('is declared exactly where the vendor documents headers (Mesa, Basic, Tyk, Plumaa and Algolia document none)', () => {
    const declared = Object.fromEntries(Object.entries(providers).map(([kind, m]) => [kind, m.adapter.rateLimitHeaders]));
    expect(declared).toEqual({
      mesa: undefined,
      basic: undefined,
      atlas: { format: 'fields', remaining: 'RateLimit-Remaining' },
      tyk: undefined,
      plumaa: undefined,
      sendgrid: { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'epochSeconds' },
      datadog: { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'seconds' },
      confluent: { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'seconds' },
      cloudflare: { format: 'structured', header: 'Ratelimit' },
      algolia: undefined,
    } satisfies Record<BuiltinKind, RateLimitHeaders | undefined>);
  });
});

describe('reading the headers (pure)', () => {
  const epoch: RateLimitHeaders = { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'epochSeconds' };
  const relative: RateLimitHeaders = { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'seconds' };
  const structured: RateLimitHeaders = { format: 'structured', header: 'Ratelimit' };
  const read = (d: RateLimitHeaders, init: Record<string, string>) => readRateLimitHeaders(d, h(init), WALL);

  it('reads a reset given as a Unix time (SendGrid) against the wall clock', () => {
    expect(read(epoch, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(WALL / 1000 + 60) })).toEqual({ remaining: 0, resetMs: 60_000 });
    expect(read(epoch, { 'X-RateLimit-Remaining': ' 7 ', 'X-RateLimit-Reset': String(WALL / 1000 + 1.5) })).toEqual({ remaining: 7, resetMs: 1500 });
  });

  it('reads a reset given in seconds from now (Datadog, Confluent)', () => {
    expect(read(relative, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '42' })).toEqual({ remaining: 0, resetMs: 42_000 });
    expect(read(relative, { 'x-ratelimit-remaining': '12' })).toEqual({ remaining: 12 });
    // Atlas states no reset at all.
    expect(read({ format: 'fields', remaining: 'RateLimit-Remaining' }, { 'ratelimit-remaining': '0', 'x-ratelimit-reset': '42' })).toEqual({ remaining: 0 });
  });

  it('drops a reset read in the wrong unit, in the past, zero or beyond a day', () => {
    // A Unix time where seconds are declared is ~54 years away; seconds where a Unix time is declared lie in 1970.
    expect(read(relative, { 'x-ratelimit-reset': String(WALL / 1000 + 60) })).toEqual({});
    expect(read(epoch, { 'x-ratelimit-reset': '60' })).toEqual({});
    expect(read(epoch, { 'x-ratelimit-reset': String(WALL / 1000 - 5) })).toEqual({});
    expect(read(relative, { 'x-ratelimit-reset': '0' })).toEqual({});
    expect(read(relative, { 'x-ratelimit-reset': '86401' })).toEqual({});
    expect(read(relative, { 'x-ratelimit-reset': '86400' })).toEqual({ resetMs: 86_400_000 });
  });

  it('ignores garbage, negative, fractional and absurd values', () => {
    for (const bad of ['', 'abc', '-1', '1e3', '0x10', '3.5', 'Infinity', 'NaN', '1, 2', '9'.repeat(16)])
      expect(read(relative, { 'x-ratelimit-remaining': bad, 'x-ratelimit-reset': bad === '3.5' ? 'soon' : bad }), bad).toEqual({});
    expect(read(relative, {})).toEqual({});
  });

  it('reads the structured form (Cloudflare): the policy with the fewest requests left counts', () => {
    expect(read(structured, { ratelimit: '"default";r=50;t=30' })).toEqual({ remaining: 50, resetMs: 30_000 });
    expect(read(structured, { RateLimit: '"burst";r=5;t=1, "day";r=0;t=3600' })).toEqual({ remaining: 0, resetMs: 3_600_000 });
    expect(read(structured, { ratelimit: '"a";r=0;t=5, "b";r=0;t=60' })).toEqual({ remaining: 0, resetMs: 60_000 });
    expect(read(structured, { ratelimit: '"a,b;c";r=1;t=2' })).toEqual({ remaining: 1, resetMs: 2000 });
    expect(read(structured, { ratelimit: 'default;r=0' })).toEqual({ remaining: 0 });
    expect(read(structured, { ratelimit: '"x";r=0;t=999999' })).toEqual({ remaining: 0 });
    expect(read(structured, { ratelimit: '"x";r=-1;t=5' })).toEqual({});
    expect(read(structured, { ratelimit: '"x";t=5' })).toEqual({});
    expect(read(structured, { ratelimit: 'garbage' })).toEqual({});
    expect(read(structured, { 'x-ratelimit-remaining': '0' })).toEqual({});
  });
});

/** A connection of `kind` (its demo credentials, nothing listening) with the given rateLimit. */
function connection(kind: 'sendgrid' | 'datadog' | 'cloudflare' | 'atlas' | 'mesa', rateLimit: ConnectionConfig['rateLimit']): ConnectionConfig {
  const settings = {
    sendgrid: { token: SENDGRID_DEMO.token },
    datadog: { apiKey: DATADOG_DEMO.apiKey, appKey: DATADOG_DEMO.appKey },
    cloudflare: { token: CLOUDFLARE_DEMO.token },
    atlas: { orgId: ATLAS_DEMO.orgId, publicKey: ATLAS_DEMO.publicKey, privateKey: ATLAS_DEMO.privateKey },
    mesa: { org: 'acme', token: 'mesa_headers_token_1234' },
  }[kind];
  const config = resolveConfig({ providers: { c: { kind, ...settings } }, audit: false });
  return { ...config.providers.get('c')!, rateLimit };
}

describe('the pacer reads them (fake timers)', () => {
  afterEach(() => vi.useRealTimers());
  const fake = () => {
    vi.useFakeTimers();
    return { now: () => Date.now(), wallNow: () => WALL };
  };
  /** Whether a call with `maxWaitMs` left is refused at once. */
  const refused = async (pacer: ReturnType<typeof createPacer>, maxWaitMs: number) =>
    (await pacer!.take(maxWaitMs).catch((e: unknown) => e)) instanceof RateLimitRefusal;
  /** How long (ms, to the `step`) a waiting call waits before it may send. */
  const waited = async (pacer: ReturnType<typeof createPacer>, step = 100) => {
    let done = false;
    const p = pacer!.take(MAX_SIGNAL_PAUSE_MS * 2).then(() => (done = true));
    let ms = 0;
    while (!done) {
      await vi.advanceTimersByTimeAsync(step);
      ms += step;
    }
    await p;
    return ms;
  };

  it('without a budget: nothing paused sends at once with no store call; a paused connection is refused with retryAfter', async () => {
    const calls: string[] = [];
    const store: BucketStore = {
      shared: true,
      reserve: () => {
        calls.push('reserve');
        return Promise.reject(new Error('unexpected'));
      },
      pause: () => {
        calls.push('pause');
        return Promise.reject(new Error('unexpected'));
      },
    };
    const pacer = createPacer(connection('sendgrid', 'signals'), { store, ...fake() });
    expect(pacer).toBeDefined();
    await pacer!.take(0);
    pacer!.observe(200, h({ 'x-ratelimit-remaining': '3', 'x-ratelimit-reset': String(WALL / 1000 + 60) }));
    await pacer!.take(0);
    pacer!.observe(200, h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(WALL / 1000 + 60) }));
    const err = await pacer!.take(59_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitRefusal);
    expect((err as RateLimitRefusal).message).toMatch(
      /^c: rate limit budget exhausted \(the vendor's limit pauses this connection for 60000 ms more.*nothing was sent$/,
    );
    expect((err as RateLimitRefusal).extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', retryAfter: 60, attempts: 0 });
    expect(await waited(pacer)).toBe(60_000);
    expect(calls).toEqual([]);
  });

  it('a 429 pauses for its Retry-After, else the declared reset, else the doubling backoff', async () => {
    const pacer = createPacer(connection('datadog', 'signals'), { store: createMemoryBucketStore(), ...fake() });
    pacer!.observe(429, h({ 'retry-after': '5', 'x-ratelimit-reset': '30' }));
    expect(await waited(pacer)).toBe(5000);
    pacer!.observe(429, h({ 'x-ratelimit-reset': '30' }));
    expect(await waited(pacer)).toBe(30_000);
    pacer!.observe(200, h({}));
    // A reset that cannot be one (a Unix time where Datadog sends seconds) is not obeyed: the backoff is.
    pacer!.observe(429, h({ 'x-ratelimit-reset': String(WALL / 1000 + 30) }));
    expect(await waited(pacer)).toBe(FIRST_PAUSE_MS);
    pacer!.observe(429, h({ 'x-ratelimit-reset': 'soon' }));
    expect(await waited(pacer)).toBe(FIRST_PAUSE_MS * 2);
  });

  it('Remaining 0 pauses until the declared reset (Cloudflare structured); without one for one interval (Atlas) or 1 s without a budget', async () => {
    const cloudflare = createPacer(connection('cloudflare', 'signals'), { store: createMemoryBucketStore(), ...fake() });
    cloudflare!.observe(200, h({ ratelimit: '"default";r=1;t=45' }));
    expect(await refused(cloudflare, 0)).toBe(false);
    cloudflare!.observe(200, h({ ratelimit: '"default";r=0;t=45' }));
    expect(await waited(cloudflare)).toBe(45_000);

    const { now, wallNow } = fake();
    const atlas = createPacer(connection('atlas', { requests: 1, perSeconds: 10, burst: 5 }), { store: createMemoryBucketStore(now), now, wallNow });
    await atlas!.take(0);
    atlas!.observe(200, h({ 'ratelimit-remaining': '0', 'ratelimit-limit': '500' }));
    expect(await refused(atlas, 9_000)).toBe(true);
    expect(await waited(atlas)).toBe(10_000);

    const noBudget = createPacer(connection('atlas', 'signals'), { store: createMemoryBucketStore(), now, wallNow });
    noBudget!.observe(200, h({ 'ratelimit-remaining': '0' }));
    expect(await waited(noBudget)).toBe(FIRST_PAUSE_MS);
  });

  it('caps a pause at MAX_SIGNAL_PAUSE_MS, whatever the vendor says', async () => {
    const pacer = createPacer(connection('sendgrid', 'signals'), { store: createMemoryBucketStore(), ...fake() });
    pacer!.observe(429, h({ 'retry-after': '86400' }));
    expect(await refused(pacer, MAX_SIGNAL_PAUSE_MS - 1000)).toBe(true);
    expect(await waited(pacer, 10_000)).toBe(MAX_SIGNAL_PAUSE_MS);
  });

  it('a call that ends while waiting out a pause is refused, nothing sent', async () => {
    const pacer = createPacer(connection('sendgrid', 'signals'), { store: createMemoryBucketStore(), ...fake() });
    pacer!.observe(429, h({ 'retry-after': '10' }));
    const ac = new AbortController();
    const waiting = pacer!.take(60_000, ac.signal).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(1000);
    ac.abort();
    expect(((await waiting) as Error).message).toMatch(/the call ended while waiting out the vendor's pause\); nothing was sent$/);
  });

  it('is off with `rateLimit: false`: no pacer reads anything', () => {
    expect(createPacer(connection('sendgrid', false), { store: createMemoryBucketStore() })).toBeUndefined();
  });
});

describe('`kind: http` declares the dialect in its definition', () => {
  const base = {
    kind: 'http',
    baseUrl: 'http://127.0.0.1:9',
    update: { method: 'PATCH', path: '/keys/{{ id }}', body: { name: '{{ patch.name }}' } },
    key: { id: '{{ key.id }}' },
    patch: { name: {} },
  };
  const problems = (rateLimitHeaders: unknown): string[] => {
    try {
      resolveConfig({ providers: { acme: { ...base, rateLimitHeaders } }, audit: false });
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems;
    }
  };

  it('becomes the adapter’s rateLimitHeaders', () => {
    const dialect = { format: 'fields', remaining: 'X-Left', reset: 'X-Reset', resetUnit: 'epochSeconds' };
    const config = resolveConfig({ providers: { acme: { ...base, rateLimitHeaders: dialect } }, audit: false });
    expect(config.providers.get('acme')!.adapter.rateLimitHeaders).toEqual(dialect);
    expect(config.providers.get('acme')!.rateLimit).toBe('signals');
  });

  it('refuses a bad one at start-up, naming the path and what is allowed', () => {
    expect(problems({ format: 'fields', remaining: 'X-Left', reset: 'X-Reset' })).toEqual([
      'providers.acme.rateLimitHeaders.resetUnit: goes with reset, and reset with it: seconds (from now) or epochSeconds (a Unix time)',
    ]);
    expect(problems({ format: 'fields', remaining: 'X-Left', resetUnit: 'seconds' })[0]).toMatch(
      /^providers\.acme\.rateLimitHeaders\.resetUnit: goes with reset/,
    );
    expect(problems({ format: 'fields', remaining: 'X-Left', reset: 'X-Reset', resetUnit: 'minutes' })[0]).toMatch(
      /^providers\.acme\.rateLimitHeaders\.resetUnit: .*"seconds"\|"epochSeconds"/,
    );
    expect(problems({ format: 'headers' })).toEqual([
      'providers.acme.rateLimitHeaders.format: must be fields (remaining, reset, resetUnit) or structured (header: a "policy";r=…;t=… field)',
    ]);
    expect(problems({ format: 'structured', header: 'Rate Limit' })).toEqual(['providers.acme.rateLimitHeaders.header: must be an HTTP header name']);
    expect(problems({ format: 'structured', header: 'RateLimit', remaining: 'X' })).toEqual(['providers.acme.rateLimitHeaders: unknown field(s) remaining']);
    expect(problems({ format: 'fields' })).toEqual(['providers.acme.rateLimitHeaders.remaining: required']);
  });
});

/** 429 answers of the simulator. */
const statuses = (sim: RunningSimulator) => sim.requests.map((r) => r.status);

describe('the simulators answer in their vendor’s dialect', () => {
  const sims: RunningSimulator[] = [];
  afterAll(async () => {
    await Promise.all(sims.map((s) => s.close()));
  });
  const answers = async (sim: RunningSimulator, n: number) => {
    sims.push(sim);
    const out = [];
    for (let i = 0; i < n; i++) {
      const res = await fetch(`${sim.baseUrl}/`);
      const text = await res.text();
      recordSeen(text);
      out.push({ status: res.status, headers: Object.fromEntries(res.headers), json: JSON.parse(text) });
    }
    return out;
  };
  const now = () => WALL;
  const limit: SimRateLimitOptions = { limit: 2, windowSeconds: 60, now };

  it('SendGrid: X-RateLimit-* with a Unix-time reset; its 429 body, without Retry-After', async () => {
    const [first, , over] = await answers(await createSendGridSimulator({ tokens: {}, keys: [], rateLimit: limit }), 3);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': String(WALL / 1000 + 60) });
    expect(over.status).toBe(429);
    expect(over.headers).toMatchObject({ 'x-ratelimit-remaining': '0' });
    expect(over.headers['retry-after']).toBeUndefined();
    expect(over.json).toEqual({ errors: [{ field: null, message: 'too many requests' }] });
  });

  it('Datadog: X-RateLimit-* with -Period and a reset in seconds; no Retry-After', async () => {
    const [first, , over] = await answers(await createDatadogSimulator({ apiKeys: [], appKeys: {}, keys: [], rateLimit: limit }), 3);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-period': '60', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '60' });
    expect(over.status).toBe(429);
    expect(over.headers['retry-after']).toBeUndefined();
    expect(over.json).toEqual({ errors: ['Too many requests'] });
  });

  it('Confluent: X-RateLimit-* with a reset in seconds; its 429 adds Retry-After', async () => {
    const [first, , over] = await answers(await createConfluentSimulator({ credentials: {}, keys: [], rateLimit: limit }), 3);
    expect(first.headers).toMatchObject({ 'x-ratelimit-limit': '2', 'x-ratelimit-remaining': '1', 'x-ratelimit-reset': '60' });
    expect(over).toMatchObject({ status: 429, headers: { 'retry-after': '60', 'x-ratelimit-remaining': '0' } });
    expect(over.json.errors).toMatchObject([{ status: '429', code: 'too_many_requests', title: 'Too Many Requests' }]);
  });

  it('Cloudflare: the structured Ratelimit and Ratelimit-Policy; retry-after only on its 429', async () => {
    const [first, , over] = await answers(await createCloudflareSimulator({ credentials: {}, userTokens: [], rateLimit: limit }), 3);
    expect(first.headers).toMatchObject({ ratelimit: '"default";r=1;t=60', 'ratelimit-policy': '"default";q=2;w=60' });
    expect(first.headers['retry-after']).toBeUndefined();
    expect(over).toMatchObject({ status: 429, headers: { 'retry-after': '60', ratelimit: '"default";r=0;t=60' } });
    expect(over.json).toMatchObject({ success: false, errors: [{ code: 971 }] });
  });

  it('Atlas: RateLimit-Limit and -Remaining on v2 and its RATE_LIMITED_TOKEN_BUCKET 429 with Retry-After; v1.0 sends no headers', async () => {
    const sim = await createAtlasSimulator({ orgId: ATLAS_DEMO.orgId, apiKeys: {}, keys: [], rateLimit: limit });
    sims.push(sim);
    const get = async (url: string) => {
      const res = await fetch(url);
      return { status: res.status, headers: Object.fromEntries(res.headers), json: await res.json() };
    };
    const first = await get(`${sim.v2BaseUrl}/orgs`);
    expect(first.headers).toMatchObject({ 'ratelimit-limit': '2', 'ratelimit-remaining': '1' });
    await get(`${sim.v2BaseUrl}/orgs`);
    const over = await get(`${sim.v2BaseUrl}/orgs`);
    expect(over).toMatchObject({ status: 429, headers: { 'retry-after': '60', 'ratelimit-remaining': '0' }, json: { errorCode: 'RATE_LIMITED_TOKEN_BUCKET' } });
    const v1 = await get(`${sim.baseUrl}/orgs`);
    expect(v1).toMatchObject({ status: 429, json: { errorCode: 'RATE_LIMITED' } });
    expect(v1.headers['ratelimit-remaining']).toBeUndefined();
    expect(v1.headers['retry-after']).toBeUndefined();
  });
});

/** The built-in engine vendors end to end: each simulator limits to two updates per 60 s window. */
interface Vendor {
  kind: 'sendgrid' | 'datadog' | 'confluent' | 'cloudflare';
  /** Requests one name update makes (Cloudflare reads the token before its PUT). */
  perUpdate: number;
  /** Whether the vendor's 429 carries Retry-After (documented). */
  retryAfter: boolean;
  start(rateLimit: SimRateLimitOptions): Promise<{ sim: RunningSimulator; connection: Record<string, unknown>; id: string }>;
}

const VENDORS: Vendor[] = [
  {
    kind: 'sendgrid',
    perUpdate: 1,
    retryAfter: false,
    start: async (rateLimit) => {
      const sim = await createSendGridSimulator({
        tokens: { [SENDGRID_DEMO.token]: ['api_keys.read', 'api_keys.update'] },
        keys: SENDGRID_DEMO.keys,
        rateLimit,
      });
      return { sim, connection: { baseUrl: sim.baseUrl, token: SENDGRID_DEMO.token }, id: SENDGRID_DEMO.keys[0].api_key_id };
    },
  },
  {
    kind: 'datadog',
    perUpdate: 1,
    retryAfter: false,
    start: async (rateLimit) => {
      const sim = await createDatadogSimulator({
        apiKeys: [DATADOG_DEMO.apiKey],
        appKeys: { [DATADOG_DEMO.appKey]: ['api_keys_read', 'api_keys_write'] },
        keys: DATADOG_DEMO.keys,
        rateLimit,
      });
      return { sim, connection: { baseUrl: sim.baseUrl, apiKey: DATADOG_DEMO.apiKey, appKey: DATADOG_DEMO.appKey }, id: DATADOG_DEMO.keys[0].id };
    },
  },
  {
    kind: 'confluent',
    perUpdate: 1,
    retryAfter: true,
    start: async (rateLimit) => {
      const sim = await createConfluentSimulator({
        credentials: { [CONFLUENT_DEMO.apiKey]: { secret: CONFLUENT_DEMO.apiSecret, write: true } },
        keys: CONFLUENT_DEMO.keys,
        rateLimit,
      });
      return { sim, connection: { baseUrl: sim.baseUrl, apiKey: CONFLUENT_DEMO.apiKey, apiSecret: CONFLUENT_DEMO.apiSecret }, id: CONFLUENT_DEMO.keys[0].id };
    },
  },
  {
    kind: 'cloudflare',
    perUpdate: 2,
    retryAfter: true,
    start: async (rateLimit) => {
      const sim = await createCloudflareSimulator({
        credentials: { [CLOUDFLARE_DEMO.token]: { user: true, accounts: [] } },
        userTokens: CLOUDFLARE_DEMO.tokens,
        rateLimit,
      });
      return { sim, connection: { baseUrl: sim.baseUrl, token: CLOUDFLARE_DEMO.token }, id: CLOUDFLARE_DEMO.tokens[0].id };
    },
  },
];

const READ = 'query Read($provider: String!, $id: ID!) { apiKey(provider: $provider, id: $id) { id } }';

async function metric(gw: TestGateway, name: string, provider: string): Promise<number> {
  const text = await (await fetch(gw.keygate.metricsUrl)).text();
  recordSeen(text);
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`provider="${provider}"`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe.each(VENDORS)('$kind end to end: its headers pace a connection without a budget of its own', { concurrent: false }, (vendor) => {
  const { kind } = vendor;
  const limit = 2 * vendor.perUpdate;
  let sim: RunningSimulator;
  let id: string;
  let gw: TestGateway;
  beforeAll(async () => {
    const started = await vendor.start({ limit, windowSeconds: 60 });
    sim = started.sim;
    id = started.id;
    // Neither sets `rateLimit`: the vendor's own signals pace them. `-other` stands for another client of the account.
    const common = { kind, ...started.connection, deadlineMs: 2_000 };
    gw = await startGateway({
      providers: { [kind]: common, [`${kind}-429`]: common, [`${kind}-other`]: { ...common, rateLimit: false } },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await sim?.close();
  });
  const update = (provider: string, name: string) => gw.gql(UPDATE, { provider, id, patch: { name } });

  it('two updates spend the window: the third is refused at once with nothing sent, and the vendor never answers 429', async () => {
    sim.reset();
    const results = [await update(kind, 'one'), await update(kind, 'two'), await update(kind, 'three')];
    expect(results.slice(0, 2).map((r) => r.body.errors)).toEqual([undefined, undefined]);
    expect(results[2].body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', provider: kind });
    expect(results[2].body.errors?.[0].message).toMatch(new RegExp(`^${kind}: rate limit budget exhausted .*; nothing was sent$`));
    expect(statuses(sim)).toEqual(Array(limit).fill(200));
    expect(sim.writes()).toHaveLength(2);
    expect(await metric(gw, 'keygate_rate_limit_refused_total', kind)).toBe(1);
  });

  it(`a 429 (${vendor.retryAfter ? 'with Retry-After' : 'without Retry-After, with its reset header'}) pauses the whole connection: the next call is refused with nothing sent`, async () => {
    sim.reset();
    // Another client spends the window.
    for (let i = 0; i < limit; i++) expect((await gw.gql(READ, { provider: `${kind}-other`, id })).body.errors).toBeUndefined();
    const limited = await update(`${kind}-429`, 'limited');
    expect(limited.body.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, attempts: 1 } });
    expect(limited.body.errors?.[0].extensions.upstream.retryAfter).toBeGreaterThanOrEqual(55);
    const next = await update(`${kind}-429`, 'next');
    expect(next.body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(next.body.errors?.[0].message).toMatch(/rate limit budget exhausted .*; nothing was sent$/);
    expect(statuses(sim)).toEqual([...Array(limit).fill(200), 429]);
    expect(await metric(gw, 'keygate_upstream_rate_limited_total', `${kind}-429`)).toBe(1);
  });
});

describe('Atlas end to end: RateLimit-Remaining without a reset', () => {
  const sims: AtlasSimulator[] = [];
  let gw: TestGateway;
  const id = ATLAS_DEMO.keys[0].id;
  const start = async () => {
    const sim = await createAtlasSimulator({
      orgId: ATLAS_DEMO.orgId,
      apiKeys: {},
      serviceAccounts: { [ATLAS_DEMO.clientId]: { clientSecret: ATLAS_DEMO.clientSecret, roles: ['ORG_OWNER'] } },
      keys: ATLAS_DEMO.keys,
      rateLimit: { limit: 2, windowSeconds: 60 },
    });
    sims.push(sim);
    return {
      kind: 'atlas',
      baseUrl: sim.v2BaseUrl,
      orgId: ATLAS_DEMO.orgId,
      clientId: ATLAS_DEMO.clientId,
      clientSecret: ATLAS_DEMO.clientSecret,
      deadlineMs: 2_000,
    };
  };
  beforeAll(async () => {
    // One simulator each: a bucket belongs to the vendor account, and the two budgets differ.
    gw = await startGateway({ providers: { slow: { ...(await start()), rateLimit: { requests: 1, perSeconds: 60, burst: 10 } }, atlas: await start() } });
  });
  afterAll(async () => {
    await gw?.close();
    await Promise.all(sims.map((s) => s.close()));
  });
  const update = (provider: string, name: string) => gw.gql(UPDATE, { provider, id, patch: { name } });
  const patches = (sim: AtlasSimulator) => sim.requests.filter((r) => r.method === 'PATCH').map((r) => r.status);

  it('Remaining 0 empties the bucket for one token: with a token every 60 s, the third update is refused with nothing sent', async () => {
    const results = [await update('slow', 'one'), await update('slow', 'two'), await update('slow', 'three')];
    expect(results.slice(0, 2).map((r) => r.body.errors)).toEqual([undefined, undefined]);
    expect(results[2].body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(results[2].body.errors?.[0].message).toMatch(/^slow: rate limit budget exhausted .*; nothing was sent$/);
    expect(patches(sims[0])).toEqual([200, 200]);
  });

  it('with its default budget the next update goes after one interval; the 429 it draws pauses the connection for its Retry-After', async () => {
    const results = [await update('atlas', 'one'), await update('atlas', 'two'), await update('atlas', 'three'), await update('atlas', 'four')];
    expect(results.slice(0, 2).map((r) => r.body.errors)).toEqual([undefined, undefined]);
    expect(results[2].body.errors?.[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      upstream: { status: 429, code: 'RATE_LIMITED_TOKEN_BUCKET', attempts: 1 },
    });
    expect(results[3].body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(patches(sims[1])).toEqual([200, 200, 429]);
  });
});

describe('`kind: http` end to end: a dialect declared in YAML paces the connection', () => {
  let sim: RunningSimulator;
  let gw: TestGateway;
  const id = DATADOG_DEMO.keys[0].id;
  beforeAll(async () => {
    sim = await createDatadogSimulator({
      apiKeys: [DATADOG_DEMO.apiKey],
      appKeys: { [DATADOG_DEMO.appKey]: ['api_keys_write'] },
      keys: DATADOG_DEMO.keys,
      rateLimit: { limit: 2, windowSeconds: 60 },
    });
    const yaml = `
providers:
  dd:
    kind: http
    baseUrl: ${sim.baseUrl}
    deadlineMs: 2000
    credentials: { apiKey: ${DATADOG_DEMO.apiKey}, appKey: ${DATADOG_DEMO.appKey} }
    auth: { type: headers, headers: { DD-API-KEY: "{{ config.apiKey }}", DD-APPLICATION-KEY: "{{ config.appKey }}" } }
    update:
      method: PATCH
      path: /api/v2/api_keys/{{ id }}
      body: { data: { type: api_keys, id: "{{ id }}", attributes: { name: "{{ patch.name }}" } } }
    updateKey: body.data
    key: { id: "{{ key.id }}", name: "{{ key.attributes.name }}" }
    secretBodyFields: [data.attributes.key]
    patch: { name: { minLength: 1 } }
    rateLimitHeaders: { format: fields, remaining: X-RateLimit-Remaining, reset: X-RateLimit-Reset, resetUnit: seconds }
`;
    gw = await startGateway(parseYaml(yaml));
  });
  afterAll(async () => {
    await gw?.close();
    await sim?.close();
  });

  it('two updates succeed, the third is refused at once with nothing sent', async () => {
    const results = [];
    for (const name of ['one', 'two', 'three']) results.push(await gw.gql(UPDATE, { provider: 'dd', id, patch: { name } }));
    expect(results.slice(0, 2).map((r) => r.body.data?.updateApiKey?.name)).toEqual(['one', 'two']);
    expect(results[2].body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE' });
    expect(results[2].body.errors?.[0].message).toMatch(/^dd: rate limit budget exhausted .*; nothing was sent$/);
    expect(statuses(sim)).toEqual([200, 200]);
  });
});

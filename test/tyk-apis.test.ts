/**
 * Tyk's three key APIs (`api: dashboard | gateway | dashboard-admin`) over real HTTP against the
 * Tyk simulator: paths, query (`suppress_reset`, `hashed`), auth headers, whole-session bodies,
 * errors, reads, lists, previews and the lost-update guarantee.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTykSimulator, demoSession, hashOf, type TykSimulator } from '../providers/tyk/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const ORG = '5e9d9544a1dcd60001d0ed20';
/** The legacy form: org id + 32 hex. */
const KEY = `${ORG}e7f75f9e03534825b7aef9df749582e5`;
/** The newer form: base64 of `{"org":…,"id":…,"h":"murmur64"}`, which may end in `=`. */
const B64_KEY = Buffer.from(JSON.stringify({ org: ORG, id: '44f4c8dca7674437bb77fbf90322d6bb', h: 'murmur64' })).toString('base64');
const MISSING = `${ORG}00000000000000000000000000000000`;
const ADMIN = 'tyk-apis-admin-secret-1';
const DASH = 'tyk-apis-dashboard-key-2';
const DASH_READER = 'tyk-apis-dashboard-reader-3';
const GW = 'tyk-apis-gateway-secret-4';
registerSecret(ADMIN, DASH, DASH_READER, GW);

let sim: TykSimulator;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createTykSimulator({
    adminSecret: ADMIN,
    dashboardUsers: { [DASH]: { write: true }, [DASH_READER]: { write: false } },
    gatewaySecret: GW,
    keys: {},
  });
  const base = { kind: 'tyk', baseUrl: sim.baseUrl };
  gw = await startGateway({
    providers: {
      dashboard: { ...base, api: 'dashboard', apiKey: DASH },
      gateway: { ...base, secret: GW },
      'dashboard-admin': { ...base, adminSecret: ADMIN },
      'dashboard-reset': { ...base, apiKey: DASH, suppressReset: false },
      'dashboard-reader': { ...base, apiKey: DASH_READER },
      'dashboard-wrong': { ...base, apiKey: 'tyk-apis-not-a-user-key' },
      'gateway-wrong': { ...base, secret: 'tyk-apis-not-the-secret' },
    },
  });
  registerSecret('tyk-apis-not-a-user-key', 'tyk-apis-not-the-secret');
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => {
  sim.reset();
  sim.sessions.clear();
  sim.sessions.set(KEY, demoSession('portal-key', ['edge'], { hmac_enabled: true, hmac_string: 'tyk-apis-hmac-secret-5' }));
  sim.sessions.set(B64_KEY, demoSession('b64-key', []));
});
registerSecret('tyk-apis-hmac-secret-5');

const PATHS = {
  dashboard: { key: '/api/keys/', list: '/api/apis/keys', header: 'authorization', secret: DASH, query: { suppress_reset: '1' } },
  gateway: { key: '/tyk/keys/', list: '/tyk/keys', header: 'x-tyk-authorization', secret: GW, query: { suppress_reset: '1' } },
  'dashboard-admin': { key: '/admin/org/keys/', list: '/admin/org/keys', header: 'admin-auth', secret: ADMIN, query: {} },
} as const;

describe.each(['dashboard', 'gateway', 'dashboard-admin'] as const)('tyk api: %s', (api) => {
  const p = PATHS[api];

  it('reads the session, then PUTs it whole with the patch applied, with its own path, query and header', async () => {
    const before = structuredClone(sim.sessions.get(KEY)!);
    const res = await gw.gql(UPDATE, { provider: api, id: KEY, patch: { name: 'renamed', setTags: [{ key: 'owner-a' }], tyk: { rate: 42 } } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.updateApiKey).toMatchObject({ id: KEY, name: 'renamed', enabled: true, tags: [{ key: 'edge' }, { key: 'owner-a' }] });
    expect(res.body.data!.updateApiKey.raw).toMatchObject({ alias: 'renamed', rate: 42, hmac_string: '[redacted]' });
    const [get, put] = sim.requests;
    expect(sim.requests).toHaveLength(2);
    expect(get).toMatchObject({ method: 'GET', path: `${p.key}${KEY}`, query: {}, status: 200 });
    expect(put).toMatchObject({ method: 'PUT', path: `${p.key}${KEY}`, query: p.query, status: 200 });
    for (const r of [get, put]) expect(r.headers[p.header]).toBe(p.secret);
    // The whole session goes back: every field the patch does not name is as it was.
    expect(put.body).toEqual({ ...before, alias: 'renamed', rate: 42, tags: ['edge', 'owner-a'] });
  });

  it('accepts the base64 JSON key id form (ending in "=")', async () => {
    expect(B64_KEY.endsWith('=')).toBe(true);
    const res = await gw.gql(UPDATE, { provider: api, id: B64_KEY, patch: { enabled: false } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.updateApiKey).toMatchObject({ id: B64_KEY, enabled: false });
    expect(sim.requests.map((r) => r.path)).toEqual([`${p.key}${B64_KEY.replace(/=/g, '%3D')}`, `${p.key}${B64_KEY.replace(/=/g, '%3D')}`]);
    expect(sim.sessions.get(B64_KEY)!.is_inactive).toBe(true);
  });

  it('reads one key and lists keys at its own paths', async () => {
    const one = await gw.gql(`{ apiKey(provider: "${api}", id: "${KEY}") { id name tags { key } } }`);
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data!.apiKey).toEqual({ id: KEY, name: 'portal-key', tags: [{ key: 'edge' }] });
    const list = await gw.gql(`{ apiKeys(provider: "${api}", first: 10) { edges { node { id } } } }`);
    expect(list.body.errors).toBeUndefined();
    expect(list.body.data!.apiKeys.edges.map((e: { node: { id: string } }) => e.node.id).sort()).toEqual([KEY, B64_KEY].sort());
    expect(sim.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['GET', `${p.key}${KEY}`, {}],
      ['GET', p.list, api === 'gateway' ? {} : { p: '1' }],
    ]);
  });

  it('answers an unknown key with NOT_FOUND and never writes', async () => {
    const res = await gw.gql(UPDATE, { provider: api, id: MISSING, patch: { name: 'x' } });
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404 } });
    expect(sim.requests.map((r) => r.method)).toEqual(['GET']);
  });

  it('serialises concurrent updates of one key so that none is lost', async () => {
    sim.inject({ method: 'GET', delayMs: 30, times: 3 });
    const results = await Promise.all(['a', 'b', 'c'].map((tag) => gw.gql(UPDATE, { provider: api, id: KEY, patch: { setTags: [{ key: tag }] } })));
    for (const r of results) expect(r.body.errors).toBeUndefined();
    expect(sim.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'PUT', 'GET', 'PUT']);
    expect([...sim.sessions.get(KEY)!.tags!].sort()).toEqual(['a', 'b', 'c', 'edge']);
  });

  it('previews the real method, URL and headers, the credential redacted', async () => {
    const res = await gw.gql(`{ previewApiKeyUpdate(provider: "${api}", id: "${KEY}", patch: { name: "p" }) { requests { method url headers } } }`);
    expect(res.body.errors).toBeUndefined();
    const query = new URLSearchParams(p.query).toString();
    expect(res.body.data!.previewApiKeyUpdate.requests).toEqual([
      { method: 'GET', url: `${sim.baseUrl}${p.key}${KEY}`, headers: expect.objectContaining({ [p.header]: '[redacted]' }) },
      { method: 'PUT', url: `${sim.baseUrl}${p.key}${KEY}${query ? `?${query}` : ''}`, headers: expect.objectContaining({ [p.header]: '[redacted]' }) },
    ]);
  });
});

describe('tyk api specifics', () => {
  it('suppressReset (default) keeps the key’s quota; suppressReset: false lets Tyk reset it', async () => {
    const renews = sim.sessions.get(KEY)!.quota_renews;
    const perApi = () => Object.values(sim.sessions.get(KEY)!.access_rights!)[0].limit!;
    await gw.gql(UPDATE, { provider: 'dashboard', id: KEY, patch: { name: 'kept' } });
    expect(sim.sessions.get(KEY)!.quota_renews).toBe(renews);
    expect(perApi().quota_remaining).toBe(9500);
    sim.reset();
    await gw.gql(UPDATE, { provider: 'dashboard-reset', id: KEY, patch: { name: 'reset' } });
    expect(sim.requests.find((r) => r.method === 'PUT')!.query).toEqual({});
    expect(perApi().quota_remaining).toBe(10000);
  });

  it('answers a Dashboard user without the key permission with FORBIDDEN (after its read)', async () => {
    const res = await gw.gql(UPDATE, { provider: 'dashboard-reader', id: KEY, patch: { name: 'x' } });
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'FORBIDDEN',
      upstream: { status: 403, message: `access denied: You do not have permission to access /api/keys/${KEY}` },
    });
    expect(sim.sessions.get(KEY)!.alias).toBe('portal-key');
  });

  it('answers a wrong Dashboard key (401 "Not authorised") and a wrong gateway secret (403) with UNAUTHENTICATED', async () => {
    const dash = await gw.gql(UPDATE, { provider: 'dashboard-wrong', id: KEY, patch: { name: 'x' } });
    expect(dash.body.errors![0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 401, message: 'Not authorised' } });
    const gate = await gw.gql(UPDATE, { provider: 'gateway-wrong', id: KEY, patch: { name: 'x' } });
    expect(gate.body.errors![0].extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      upstream: { status: 403, message: 'Attempted administrative access with invalid or missing key!' },
    });
    expect(sim.requests.map((r) => r.method)).toEqual(['GET', 'GET']);
  });

  it('maps the gateway’s {status, message} errors: a malformed PUT is BAD_USER_INPUT, a 500 UPSTREAM_ERROR', async () => {
    sim.inject({ method: 'PUT', response: { status: 400, json: { status: 'error', message: 'Request malformed' } } });
    const bad = await gw.gql(UPDATE, { provider: 'gateway', id: KEY, patch: { name: 'x' } });
    expect(bad.body.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, message: 'Request malformed' } });
    sim.inject({ method: 'PUT', response: { status: 500, json: { status: 'error', message: 'Failed to create key, ensure security settings are correct.' } } });
    const failed = await gw.gql(UPDATE, { provider: 'gateway', id: KEY, patch: { name: 'x' } });
    expect(failed.body.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 500 } });
  });
});

describe('tyk gateway with hashed key ids', () => {
  let hashed: TykSimulator;
  let hgw: TestGateway;
  beforeAll(async () => {
    hashed = await createTykSimulator({ adminSecret: ADMIN, gatewaySecret: GW, hashKeys: true, keys: { [KEY]: demoSession('hashed-key', []) } });
    hgw = await startGateway({ providers: { gateway: { kind: 'tyk', baseUrl: hashed.baseUrl, secret: GW, hashedKeyIds: true } } });
  });
  afterAll(async () => {
    await hgw?.close();
    await hashed?.close();
  });

  it('addresses keys by hash with hashed=true on the read and the update', async () => {
    const hash = hashOf(KEY);
    const res = await hgw.gql(UPDATE, { provider: 'gateway', id: hash, patch: { name: 'by hash' } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.updateApiKey).toMatchObject({ id: hash, name: 'by hash' });
    expect(hashed.requests.map((r) => [r.method, r.path, r.query])).toEqual([
      ['GET', `/tyk/keys/${hash}`, { hashed: 'true' }],
      ['PUT', `/tyk/keys/${hash}`, { suppress_reset: '1', hashed: 'true' }],
    ]);
    expect(hashed.sessions.get(KEY)!.alias).toBe('by hash');
  });

  it('says why listing is refused when Tyk hashes keys without hashed listing', async () => {
    const res = await hgw.gql('{ apiKeys(provider: "gateway", first: 5) { edges { node { id } } } }');
    const err = res.body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'UNSUPPORTED_OPERATION', upstream: { status: 404 } });
    expect(err.message).toContain('enable_hashed_keys_listing');
  });
});

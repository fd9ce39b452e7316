/**
 * Issue 3: reads, lists, bulk updates and previews, over real loopback HTTP, counting vendor calls.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atlasKey, createAtlasSimulator, type AtlasSimulator } from '../providers/atlas/simulator.ts';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { createPlumaaSimulator, PLUMAA_DEMO, plumaaKey, type PlumaaSimulator } from '../providers/plumaa/simulator.ts';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { registerSecret, startGateway, type TestGateway } from './harness.ts';

const hex = (i: number, prefix = '5c47ba5127d9d61b9f') => `${prefix}${i.toString(16).padStart(24 - prefix.length, '0')}`;
const S = {
  mesa: 'mesa_reads_token_aaaa1111',
  basic: 'basic_reads_token_bbbb2222',
  atlas: 'atlas-reads-private-cccc3333',
  tyk: 'tyk_reads_secret_dddd4444',
  plumaa: 'plm_live_reads_token_eeee5555',
  hmac: 'tyk_reads_hmac_ffff6666',
};
registerSecret(...Object.values(S));

const ORG = '5980cfc70b6d97029d82e3f6';
const TYK_ORG = '5e9d9544a1dcd60001d0ed20';
const tykId = (i: number) => `${TYK_ORG}${i.toString(16).padStart(32, '0')}`;
const MESA_KEYS = 130;
const ATLAS_KEYS = 130;
const TYK_KEYS = 25;

let mesa: MesaSimulator;
let basic: BasicSimulator;
let atlas: AtlasSimulator;
let tyk: TykSimulator;
let plumaa: PlumaaSimulator;
let gw: TestGateway;
const sims = () => [mesa, basic, atlas, tyk, plumaa];

beforeAll(async () => {
  mesa = await createMesaSimulator({
    org: 'acme',
    tokens: { [S.mesa]: ['admin'] },
    keys: Array.from({ length: MESA_KEYS }, (_, i) => demoKey(`key_${String(i).padStart(3, '0')}`, `Key ${i}`, { n: String(i) })),
  });
  basic = await createBasicSimulator({
    projects: { p1: { tokens: [S.basic] } },
    keys: { p1: [basicKey('b-1', 'Mobile', 'read,write'), basicKey('b-2', 'Web', 'read')] },
  });
  atlas = await createAtlasSimulator({
    orgId: ORG,
    apiKeys: { pub: { privateKey: S.atlas, roles: ['ORG_OWNER'] } },
    keys: Array.from({ length: ATLAS_KEYS }, (_, i) => atlasKey(hex(i), `Atlas ${i}`, ['ORG_MEMBER'])),
  });
  tyk = await createTykSimulator({
    adminSecret: S.tyk,
    keys: Object.fromEntries(Array.from({ length: TYK_KEYS }, (_, i) => [tykId(i), demoSession(`tyk-${i}`, ['t'], { hmac_string: S.hmac })])),
  });
  plumaa = await createPlumaaSimulator({
    tokens: { [S.plumaa]: PLUMAA_DEMO.organization.id },
    keys: [plumaaKey('65b2c3d4e5f6a7b8c9d0e1f2', 'Signing', PLUMAA_DEMO.organization)],
  });
  gw = await startGateway({
    providers: {
      mesa: { kind: 'mesa', baseUrl: mesa.baseUrl, org: 'acme', token: S.mesa },
      basic: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: S.basic, maxConcurrency: 2 },
      atlas: { kind: 'atlas', baseUrl: atlas.baseUrl, orgId: ORG, publicKey: 'pub', privateKey: S.atlas },
      tyk: { kind: 'tyk', baseUrl: tyk.baseUrl, adminSecret: S.tyk },
      plumaa: { kind: 'plumaa', baseUrl: plumaa.baseUrl, token: S.plumaa },
      // Port 9 (discard) is closed on loopback: every call is refused.
      gone: { kind: 'basic', baseUrl: 'http://127.0.0.1:9', project: 'p1', token: S.basic, retry: { attempts: 2, maxDelayMs: 10 } },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all(sims().map((s) => s?.close()));
});
beforeEach(() => {
  for (const s of sims()) s.reset();
});

const gets = (sim: { requests: { method: string }[] }) => sim.requests.filter((r) => r.method === 'GET').length;

describe('Provider.operations', () => {
  it('says up front what each provider offers', async () => {
    const res = await gw.gql('{ providers { name operations } }');
    expect(Object.fromEntries(res.body.data!.providers.map((p: any) => [p.name, p.operations]))).toEqual({
      mesa: ['read', 'list', 'update', 'preview'],
      basic: ['read', 'update', 'preview'],
      atlas: ['read', 'list', 'update', 'preview'],
      tyk: ['read', 'list', 'update', 'preview'],
      plumaa: ['update', 'preview'],
      gone: ['read', 'update', 'preview'],
    });
  });
});

describe('apiKey', () => {
  it('reads one key from each readable vendor with its own read call', async () => {
    const res = await gw.gql(`{
      mesa: apiKey(provider: "mesa", id: "key_042") { id name enabled tags { key value } }
      basic: apiKey(provider: "basic", id: "b-1") { id name roles }
      atlas: apiKey(provider: "atlas", id: "${hex(7)}") { id name roles raw }
      tyk: apiKey(provider: "tyk", id: "${tykId(3)}") { id name enabled tags { key value } raw }
    }`);
    expect(res.body.errors).toBeUndefined();
    const d = res.body.data!;
    expect(d.mesa).toEqual({ id: 'key_042', name: 'Key 42', enabled: true, tags: [{ key: 'n', value: '42' }] });
    expect(d.basic).toEqual({ id: 'b-1', name: 'Mobile', roles: ['read', 'write'] });
    expect(d.atlas).toMatchObject({ id: hex(7), name: 'Atlas 7', roles: ['ORG_MEMBER'] });
    expect(d.atlas.raw.privateKey).toBe('[redacted]');
    expect(d.tyk).toMatchObject({ id: tykId(3), name: 'tyk-3', enabled: true, tags: [{ key: 't', value: null }] });
    expect(d.tyk.raw.hmac_string).toBe('[redacted]');
    expect(mesa.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v1/acme/api-keys']);
    expect(basic.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /project/p1/key/b-1']);
    expect(tyk.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /admin/org/keys/${tykId(3)}`]);
    expect(atlas.requests.filter((r) => r.status === 200).map((r) => r.path)).toEqual([`/api/atlas/v1.0/orgs/${ORG}/apiKeys/${hex(7)}`]);
  });

  it('answers null when the vendor says the key does not exist (404, Atlas 400 API_KEY_NOT_FOUND, absent from Mesa’s list)', async () => {
    const res = await gw.gql(`{
      mesa: apiKey(provider: "mesa", id: "key_nope") { id }
      basic: apiKey(provider: "basic", id: "nope") { id }
      atlas: apiKey(provider: "atlas", id: "${hex(999)}") { id }
      tyk: apiKey(provider: "tyk", id: "nope") { id }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data).toEqual({ mesa: null, basic: null, atlas: null, tyk: null });
    // Mesa walked every page of its list looking for the key.
    expect(gets(mesa)).toBe(2);
  });

  it('refuses Plumaa, which has no read endpoint, with UNSUPPORTED_OPERATION and sends nothing', async () => {
    const res = await gw.gql('{ apiKey(provider: "plumaa", id: "65b2c3d4e5f6a7b8c9d0e1f2") { id } }');
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'UNSUPPORTED_OPERATION', provider: 'plumaa' });
    expect(plumaa.requests).toHaveLength(0);
  });

  it('reads one (provider, id) once per operation, however often it is asked', async () => {
    const res = await gw.gql(`{
      a: apiKey(provider: "basic", id: "b-1") { name }
      b: apiKey(provider: "basic", id: "b-1") { roles }
      c: apiKey(provider: "tyk", id: "${tykId(1)}") { name }
      d: apiKey(provider: "tyk", id: "${tykId(1)}") { enabled }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(gets(basic)).toBe(1);
    expect(gets(tyk)).toBe(1);
    // A new operation reads again: loaders live per request.
    await gw.gql('{ apiKey(provider: "basic", id: "b-1") { name } }');
    expect(gets(basic)).toBe(2);
  });

  it('lets several Mesa ids in one operation share one walk of the list', async () => {
    const res = await gw.gql(`{
      a: apiKey(provider: "mesa", id: "key_001") { name }
      b: apiKey(provider: "mesa", id: "key_099") { name }
      c: apiKey(provider: "mesa", id: "key_120") { name }
    }`);
    expect(res.body.data).toEqual({ a: { name: 'Key 1' }, b: { name: 'Key 99' }, c: { name: 'Key 120' } });
    // 130 keys at 100 a page: one walk of two pages serves all three.
    expect(mesa.requests.map((r) => r.query.cursor ?? 'first')).toHaveLength(2);
  });
});

describe('apiKeys', () => {
  async function walk(provider: string, first: number): Promise<{ ids: string[]; calls: number }> {
    const ids: string[] = [];
    let after: string | null = null;
    let calls = 0;
    for (;;) {
      calls += 1;
      const res: any = await gw.gql(
        'query($p: String!, $f: Int, $a: String) { apiKeys(provider: $p, first: $f, after: $a) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
        {
          p: provider,
          f: first,
          a: after,
        },
      );
      expect(res.body.errors).toBeUndefined();
      const page = res.body.data.apiKeys;
      expect(page.edges.length).toBeLessThanOrEqual(first);
      ids.push(...page.edges.map((e: any) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      expect(calls).toBeLessThan(100);
    }
    return { ids, calls };
  }

  it.each([
    ['mesa', MESA_KEYS, 30, (i: number) => `key_${String(i).padStart(3, '0')}`],
    ['atlas', ATLAS_KEYS, 45, (i: number) => hex(i)],
    ['tyk', TYK_KEYS, 7, (i: number) => tykId(i)],
  ])('pages through every %s key exactly once with opaque cursors', async (provider, total, first, idOf) => {
    const { ids } = await walk(provider, first);
    expect(ids).toEqual(Array.from({ length: total }, (_, i) => idOf(i)));
  });

  it('pages across the vendor’s own page boundary without losing or repeating a key (first: 100)', async () => {
    const { ids, calls } = await walk('tyk', 100);
    expect(ids).toHaveLength(TYK_KEYS);
    expect(calls).toBe(1);
    expect(tyk.requests.map((r) => r.query.p)).toEqual(['1', '2', '3']);
  });

  it.each([0, 101, -1])('refuses first: %i with BAD_USER_INPUT, sending nothing', async (first) => {
    const res = await gw.gql('query($f: Int) { apiKeys(provider: "mesa", first: $f) { edges { cursor } } }', { f: first });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', provider: 'mesa' });
    expect(mesa.requests).toHaveLength(0);
  });

  it('refuses a cursor it did not issue, or one from another provider', async () => {
    const tykPage: any = await gw.gql('{ apiKeys(provider: "tyk", first: 1) { pageInfo { endCursor } } }');
    const foreign = tykPage.body.data.apiKeys.pageInfo.endCursor;
    for (const after of ['garbage', foreign]) {
      const res = await gw.gql('query($a: String) { apiKeys(provider: "atlas", first: 1, after: $a) { edges { cursor } } }', { a: after });
      expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  it('refuses Basic and Plumaa, which have no list endpoint, with UNSUPPORTED_OPERATION', async () => {
    for (const provider of ['basic', 'plumaa']) {
      const res = await gw.gql('query($p: String!) { apiKeys(provider: $p) { edges { cursor } } }', { p: provider });
      expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'UNSUPPORTED_OPERATION', provider });
    }
    expect(basic.requests).toHaveLength(0);
    expect(plumaa.requests).toHaveLength(0);
  });
});

const BULK = /* GraphQL */ `
  mutation($updates: [ApiKeyUpdateInput!]!) {
    updateApiKeys(updates: $updates) { provider id apiKey { id name enabled roles tags { key value } } error { code message upstream } }
  }
`;

describe('updateApiKeys', () => {
  it('answers one result per input in input order; a failing item carries its error and never fails the others', async () => {
    const res = await gw.gql(BULK, {
      updates: [
        { provider: 'basic', id: 'b-1', patch: { name: 'Mobile v2' } },
        { provider: 'basic', id: 'missing', patch: { name: 'x' } },
        { provider: 'nowhere', id: 'x', patch: { name: 'x' } },
        { provider: 'mesa', id: 'key_001', patch: { enabled: true } },
        { provider: 'atlas', id: hex(3), patch: { roles: ['ORG_READ_ONLY'] } },
        { provider: 'plumaa', id: '65b2c3d4e5f6a7b8c9d0e1f2', patch: { enabled: false } },
        { provider: 'tyk', id: tykId(2), patch: { tyk: { access_rights: [{ api_id: 'a' }, { api_id: 'a' }] } } },
      ],
    });
    expect(res.body.errors).toBeUndefined();
    const results = res.body.data!.updateApiKeys;
    expect(results.map((r: any) => [r.provider, r.id, r.error?.code ?? 'ok'])).toEqual([
      ['basic', 'b-1', 'ok'],
      ['basic', 'missing', 'NOT_FOUND'],
      ['nowhere', 'x', 'UNKNOWN_PROVIDER'],
      ['mesa', 'key_001', 'UNSUPPORTED_FIELD'],
      ['atlas', hex(3), 'ok'],
      ['plumaa', '65b2c3d4e5f6a7b8c9d0e1f2', 'ok'],
      ['tyk', tykId(2), 'BAD_USER_INPUT'],
    ]);
    expect(results[0].apiKey).toMatchObject({ name: 'Mobile v2' });
    expect(results[1].error.upstream).toEqual({ status: 404, code: 'API key not found', message: 'API key not found', attempts: 1 });
    expect(results[1].error.message).toContain('missing');
    expect(results[4].apiKey.roles).toEqual(['ORG_READ_ONLY']);
    expect(results[5].apiKey.enabled).toBe(false);
    expect(mesa.requests).toHaveLength(0);
    expect(tyk.requests).toHaveLength(0);
  });

  it('says how many attempts an item made when the vendor never answered', async () => {
    const res = await gw.gql(BULK.replace('error { code message upstream }', 'error { code upstream attempts retryAfter }'), {
      updates: [{ provider: 'gone', id: 'b-1', patch: { name: 'x' } }],
    });
    expect(res.body.data!.updateApiKeys[0].error).toEqual({ code: 'UPSTREAM_UNAVAILABLE', upstream: null, attempts: 2, retryAfter: null });
  });

  it('applies two items for one key in input order', async () => {
    basic.inject({ method: 'PATCH', delayMs: 60 });
    const res = await gw.gql(BULK, {
      updates: [
        { provider: 'basic', id: 'b-2', patch: { name: 'first' } },
        { provider: 'basic', id: 'b-2', patch: { name: 'second' } },
      ],
    });
    expect(res.body.data!.updateApiKeys.map((r: any) => r.apiKey.name)).toEqual(['first', 'second']);
    expect(basic.writes().map((r: any) => r.body.label)).toEqual(['first', 'second']);
  });

  it('reads a Tyk key once for two items on it: the second starts from the first one’s write', async () => {
    const res = await gw.gql(BULK, {
      updates: [
        { provider: 'tyk', id: tykId(5), patch: { setTags: [{ key: 'one' }] } },
        { provider: 'tyk', id: tykId(5), patch: { setTags: [{ key: 'two' }] } },
      ],
    });
    expect(res.body.errors).toBeUndefined();
    expect(tyk.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'PUT']);
    expect(tyk.sessions.get(tykId(5))?.tags).toEqual(['t', 'one', 'two']);
  });

  it('keeps at most maxConcurrency calls in flight per provider connection', async () => {
    basic.inject({ method: 'PATCH', delayMs: 40, times: 10 });
    const updates = Array.from({ length: 10 }, (_, i) => ({ provider: 'basic', id: i % 2 ? 'b-1' : 'b-2', patch: { name: `n${i}` } }));
    const res = await gw.gql(BULK, { updates: updates.map((u, i) => ({ ...u, id: ['b-1', 'b-2'][i % 2] })) });
    expect(res.body.data!.updateApiKeys.every((r: any) => r.error === null)).toBe(true);
    expect(basic.maxInFlight()).toBe(2);
  });

  it('refuses more than 100 items with BAD_USER_INPUT and sends nothing', async () => {
    const updates = Array.from({ length: 101 }, () => ({ provider: 'basic', id: 'b-1', patch: { name: 'x' } }));
    const res = await gw.gql(BULK, { updates });
    expect(res.body.data).toBeNull();
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(res.body.errors?.[0].message).toContain('at most 100');
    expect(basic.requests).toHaveLength(0);
  });

  it('primes the loader: a later apiKey in the same operation shows the new value without a read', async () => {
    const res = await gw.gql(`mutation {
      updateApiKey(provider: "basic", id: "b-1", patch: { name: "primed" }) { name }
      query { apiKey(provider: "basic", id: "b-1") { name } }
    }`);
    expect(res.body.data).toEqual({ updateApiKey: { name: 'primed' }, query: { apiKey: { name: 'primed' } } });
    expect(basic.requests.map((r) => r.method)).toEqual(['PATCH']);
  });
});

const PREVIEW = /* GraphQL */ `
  query($provider: String!, $id: ID!, $patch: ApiKeyPatch!) {
    previewApiKeyUpdate(provider: $provider, id: $id, patch: $patch) {
      requests { method url headers body }
      before { name enabled roles tags { key value } }
      after { name enabled roles tags { key value } raw }
    }
  }
`;

describe('previewApiKeyUpdate', () => {
  it('shows Tyk’s read and the exact full-session PUT, credentials redacted, and writes nothing', async () => {
    const res = await gw.gql(PREVIEW, { provider: 'tyk', id: tykId(8), patch: { enabled: false, setTags: [{ key: 'new' }] } });
    expect(res.body.errors).toBeUndefined();
    const p = res.body.data!.previewApiKeyUpdate;
    const url = `${tyk.baseUrl}/admin/org/keys/${tykId(8)}`;
    expect(p.requests.map((r: any) => [r.method, r.url])).toEqual([
      ['GET', url],
      ['PUT', url],
    ]);
    expect(p.requests[1].headers).toEqual({
      accept: 'application/json',
      'user-agent': 'keygate/0.1',
      'content-type': 'application/json',
      'admin-auth': '[redacted]',
    });
    const session = tyk.sessions.get(tykId(8))!;
    expect(p.requests[1].body).toEqual({ ...session, is_inactive: true, tags: ['t', 'new'], hmac_string: '[redacted]' });
    expect(p.before).toEqual({ name: 'tyk-8', enabled: true, roles: null, tags: [{ key: 't', value: null }] });
    expect(p.after).toMatchObject({
      name: 'tyk-8',
      enabled: false,
      tags: [
        { key: 't', value: null },
        { key: 'new', value: null },
      ],
    });
    expect(tyk.requests.map((r) => r.method)).toEqual(['GET']);
    expect(tyk.sessions.get(tykId(8))).toEqual(session);
  });

  it.each([
    [
      'mesa',
      'key_010',
      { setTags: [{ key: 'env', value: 'prod' }], removeTags: ['n'] },
      'PATCH',
      '/v1/acme/api-keys/key_010',
      { tags: { env: 'prod', n: null } },
      'Bearer [redacted]',
    ],
    ['basic', 'b-1', { name: 'p', roles: ['a', 'b'] }, 'PATCH', '/project/p1/key/b-1', { label: 'p', roles: 'a,b' }, 'Bearer [redacted]'],
    ['atlas', hex(9), { name: 'p' }, 'PATCH', `/api/atlas/v1.0/orgs/${ORG}/apiKeys/${hex(9)}`, { desc: 'p' }, 'Digest [redacted]'],
    [
      'plumaa',
      '65b2c3d4e5f6a7b8c9d0e1f2',
      { name: 'p' },
      'PUT',
      '/rest/v1/api-key?input=',
      { input: { id: '65b2c3d4e5f6a7b8c9d0e1f2', name: 'p' } },
      'Bearer [redacted]',
    ],
  ])('shows %s’s exact request, credentials redacted, and writes nothing', async (provider, id, patch, method, path, body, authorization) => {
    const sim = { mesa, basic, atlas, plumaa }[provider]!;
    const res = await gw.gql(PREVIEW, { provider, id, patch });
    expect(res.body.errors).toBeUndefined();
    const p = res.body.data!.previewApiKeyUpdate;
    expect(p.requests).toHaveLength(1);
    expect(p.requests[0].method).toBe(method);
    expect(p.requests[0].url.startsWith(sim.origin + path)).toBe(true);
    expect(p.requests[0].headers.authorization).toBe(authorization);
    expect(p.requests[0].body).toEqual(body);
    expect(JSON.stringify(p)).not.toContain(Object.values(S).find((v) => JSON.stringify(p).includes(v)) ?? '\u0000');
    expect(sim.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
    if (provider === 'plumaa') expect(p.before).toBeNull();
    else expect(p.before).not.toBeNull();
    expect(p.after.name ?? p.after.tags).toBeTruthy();
  });

  it('runs every validation first: a bad patch is refused and nothing is read or written', async () => {
    const res = await gw.gql(PREVIEW, { provider: 'tyk', id: tykId(1), patch: { setTags: [{ key: 'a', value: 'b' }] } });
    expect(res.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(tyk.requests).toHaveLength(0);
  });

  it('reports NOT_FOUND when the key to preview does not exist', async () => {
    const res = await gw.gql(PREVIEW, { provider: 'basic', id: 'ghost', patch: { name: 'x' } });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', provider: 'basic' });
    expect(basic.requests.map((r) => r.method)).toEqual(['GET']);
  });
});

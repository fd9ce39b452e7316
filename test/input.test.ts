/**
 * Client input that a vendor cannot be sent as given — `__proto__` keys, lone UTF-16 surrogates,
 * non-finite numbers, a Tyk expiry at or before the epoch, keys named twice — is refused with
 * BAD_USER_INPUT naming the field, and nothing is sent; everything else arrives exactly as sent.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { createPlumaaSimulator, PLUMAA_DEMO, plumaaKey, type PlumaaSimulator } from '../providers/plumaa/simulator.ts';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { registerSecret, startGateway, UPDATE, type GraphQLResult, type TestGateway } from './harness.ts';

const S = { mesa: 'mesa_input_token_7d1e2f3a', basic: 'basic_input_token_4b5c6d7e', tyk: 'tyk_input_secret_8f9a0b1c', plumaa: 'plm_live_input_token_2c3d4e' };
registerSecret(...Object.values(S));
const TYK_KEY = '5e9d9544a1dcd60001d0ed20cdcdcdcdcdcdcdcdcdcdcdcdcdcdcdcd';
const PLUMAA_KEY = '65b2c3d4e5f6a7b8c9d0e1bb';
const original = demoSession('input', ['t']);

let mesa: MesaSimulator;
let basic: BasicSimulator;
let tyk: TykSimulator;
let plumaa: PlumaaSimulator;
let gw: TestGateway;
const sims = () => [mesa, basic, tyk, plumaa];
const upstreamCalls = () => sims().reduce((n, s) => n + s.requests.length, 0);

beforeAll(async () => {
  mesa = await createMesaSimulator({ org: 'acme', tokens: { [S.mesa]: ['admin'] }, keys: [demoKey('key_a', 'A', {})] });
  basic = await createBasicSimulator({ projects: { p1: { tokens: [S.basic] } }, keys: { p1: [basicKey('b-1', 'Mobile', 'read')] } });
  tyk = await createTykSimulator({ adminSecret: S.tyk, keys: { [TYK_KEY]: original } });
  plumaa = await createPlumaaSimulator({
    tokens: { [S.plumaa]: PLUMAA_DEMO.organization.id },
    keys: [plumaaKey(PLUMAA_KEY, 'Signing', PLUMAA_DEMO.organization)],
  });
  gw = await startGateway({
    providers: {
      mesa: { kind: 'mesa', baseUrl: mesa.baseUrl, org: 'acme', token: S.mesa },
      basic: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: S.basic },
      tyk: { kind: 'tyk', baseUrl: tyk.baseUrl, adminSecret: S.tyk },
      plumaa: { kind: 'plumaa', baseUrl: plumaa.baseUrl, token: S.plumaa },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await Promise.all(sims().map((s) => s?.close()));
});
beforeEach(() => {
  for (const s of sims()) s.reset();
  tyk.sessions.set(TYK_KEY, structuredClone(original));
});

type Result = GraphQLResult<Record<string, any>>;
const errorOf = (res: Result) => res.body.errors?.[0];
/** A Tyk update with the patch written as a GraphQL literal (graphql-js parses it, not JSON). */
const tykLiteral = (patch: string) => gw.gql(`mutation { updateApiKey(provider: "tyk", id: "${TYK_KEY}", patch: ${patch}) { id expiresAt raw } }`);
/** The same with the patch in variables, sent as raw JSON text (so `1e309` reaches the server's JSON.parse). */
async function tykVariables(patchJson: string): Promise<Result> {
  const query = `mutation($p: ApiKeyPatch!) { updateApiKey(provider: "tyk", id: "${TYK_KEY}", patch: $p) { id raw } }`;
  const res = await gw.fetch('/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: `{"query":${JSON.stringify(query)},"variables":{"p":${patchJson}}}`,
  });
  return { status: res.status, headers: res.headers, body: JSON.parse(res.text), text: res.text };
}
/** BAD_USER_INPUT naming exactly these patch fields, and not one upstream request. */
function expectRefused(res: Result, fields: string[]): void {
  expect(errorOf(res)?.extensions, res.text).toMatchObject({ code: 'BAD_USER_INPUT', fields });
  for (const f of fields) expect(errorOf(res)!.message).toContain(f);
  expect(upstreamCalls()).toBe(0);
}
const tykPut = () => tyk.requests.find((r) => r.method === 'PUT')?.body as Record<string, any>;

describe('reserved and repeated keys', () => {
  it('refuses access_rights api_id "__proto__" (once sent as access_rights: {}) and keeps the session', async () => {
    const res = await tykLiteral('{ tyk: { access_rights: [{ api_id: "__proto__", api_name: "evil" }] } }');
    expectRefused(res, ['patch.tyk.access_rights["__proto__"]']);
    expect(tyk.sessions.get(TYK_KEY)!.access_rights).toEqual(original.access_rights);
  });

  it('refuses "__proto__" as a meta_data key at any depth, as a literal or in variables, and as an oauth_keys key', async () => {
    expectRefused(await tykLiteral('{ tyk: { meta_data: { __proto__: { admin: true }, a: 1 } } }'), ['patch.tyk.meta_data["__proto__"]']);
    expectRefused(await tykVariables('{"tyk":{"meta_data":{"a":1,"__proto__":{"admin":true}}}}'), ['patch.tyk.meta_data["__proto__"]']);
    expectRefused(await tykVariables('{"tyk":{"meta_data":{"a":[{"__proto__":1}]}}}'), ['patch.tyk.meta_data.a[0]["__proto__"]']);
    expectRefused(await tykLiteral('{ tyk: { oauth_keys: [{ key: "__proto__", value: "v" }] } }'), ['patch.tyk.oauth_keys["__proto__"]']);
  });

  it('refuses "__proto__" as a tag key (Mesa once sent tags: {}) or a removed tag', async () => {
    const mesaRes = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_a', patch: { setTags: [{ key: '__proto__', value: 'x' }] } });
    expectRefused(mesaRes, ['patch.setTags[0].key']);
    expectRefused(await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { removeTags: ['__proto__'] } }), ['patch.removeTags[0]']);
  });

  it('carries constructor, prototype and toString keys exactly as sent', async () => {
    const res = await tykVariables(
      '{"tyk":{"meta_data":{"constructor":{"prototype":1},"toString":"s"},"oauth_keys":[{"key":"constructor","value":"c"}],"access_rights":[{"api_id":"constructor","api_name":"C"},{"api_id":"prototype"}]}}',
    );
    expect(res.body.errors, res.text).toBeUndefined();
    const body = tykPut();
    expect(body.meta_data).toEqual({ constructor: { prototype: 1 }, toString: 's' });
    expect(body.oauth_keys).toEqual({ constructor: 'c' });
    expect(body.access_rights).toEqual({ constructor: { api_id: 'constructor', api_name: 'C' }, prototype: { api_id: 'prototype' } });
    expect(res.body.data!.updateApiKey.raw.meta_data).toEqual({ constructor: { prototype: 1 }, toString: 's' });

    const mesaRes = await gw.gql(UPDATE, {
      provider: 'mesa',
      id: 'key_a',
      patch: { setTags: [{ key: 'constructor', value: 'v' }], removeTags: ['hasOwnProperty'] },
    });
    expect(mesaRes.body.errors, mesaRes.text).toBeUndefined();
    expect(mesa.requests[0].body).toEqual({ tags: { constructor: 'v', hasOwnProperty: null } });
  });

  it('refuses a key named twice instead of merging: oauth_keys, Tyk and Mesa tags, removed tags', async () => {
    expectRefused(await tykLiteral('{ tyk: { oauth_keys: [{ key: "k", value: "1" }, { key: "k", value: "2" }] } }'), ['patch.tyk.oauth_keys[1].key']);
    expectRefused(await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { setTags: [{ key: 'a' }, { key: 'a' }] } }), ['patch.setTags[1].key']);
    expectRefused(await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { removeTags: ['a', 'a'] } }), ['patch.removeTags[1]']);
    const twice = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_a', patch: { removeTags: ['env', 'env'] } });
    expectRefused(twice, ['patch.removeTags[1]']);
    expect(errorOf(twice)!.message).toContain('appears more than once');
    const cased = await gw.gql(UPDATE, {
      provider: 'mesa',
      id: 'key_a',
      patch: {
        setTags: [
          { key: 'Env', value: 'a' },
          { key: 'env', value: 'b' },
        ],
      },
    });
    expectRefused(cased, ['patch.setTags[1].key']);
    expect(errorOf(cased)!.message).toContain('Mesa lowercases keys');
  });
});

describe('non-finite numbers', () => {
  it.each([
    ['a Float field', '{ tyk: { rate: 1e309 } }', 'patch.tyk.rate'],
    ['an int64 field', '{ tyk: { quota_max: -1e309 } }', 'patch.tyk.quota_max'],
    ['a JSON value', '{ tyk: { meta_data: { x: 1e309 } } }', 'patch.tyk.meta_data.x'],
    ['a JSON list item', '{ tyk: { meta_data: { x: [1, { y: -1e309 }] } } }', 'patch.tyk.meta_data.x[1].y'],
    ['a nested Float', '{ tyk: { access_rights: [{ api_id: "a", limit: { rate: 1e309 } }] } }', 'patch.tyk.access_rights.a.limit.rate'],
    ['a Float list item', '{ tyk: { monitor: { trigger_limits: [80, 1e309] } } }', 'patch.tyk.monitor.trigger_limits[1]'],
  ])('refuses Infinity in %s (once written as null)', async (_what, patch, field) => {
    const res = await tykLiteral(patch);
    expectRefused(res, [field]);
    expect(errorOf(res)!.message).toContain('must be a finite number');
  });

  it('refuses Infinity arriving through variables: in JSON (BAD_USER_INPUT) and in a Float (GraphQL refuses it)', async () => {
    expectRefused(await tykVariables('{"tyk":{"meta_data":{"x":1e309}}}'), ['patch.tyk.meta_data.x']);
    const float = await tykVariables('{"tyk":{"rate":1e309}}');
    expect(float.body.errors?.[0].message).toMatch(/Float cannot represent/);
    expect(upstreamCalls()).toBe(0);
  });
});

describe('Tyk expiry', () => {
  it.each(['1970-01-01T00:00:00Z', '1970-01-01T00:00:00.999Z', '1969-12-31T23:59:59Z', '1900-01-01T00:00:00Z'])(
    'refuses expiresAt %s (Tyk would read expires <= 0 as "never"), in updates and previews',
    async (expiresAt) => {
      const res = await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { expiresAt } });
      expectRefused(res, ['patch.expiresAt']);
      expect(errorOf(res)!.message).toContain('never expires');
      const preview = await gw.gql(`query($p: ApiKeyPatch!) { previewApiKeyUpdate(provider: "tyk", id: "${TYK_KEY}", patch: $p) { after { id } } }`, {
        p: { expiresAt },
      });
      expectRefused(preview, ['patch.expiresAt']);
    },
  );

  it('sends the earliest valid time as expires: 1, and rounds a fractional second down, answering what Tyk stores', async () => {
    const first = await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { expiresAt: '1970-01-01T00:00:01Z' } });
    expect(first.body.errors).toBeUndefined();
    expect(tykPut().expires).toBe(1);
    tyk.reset();
    const fractional = await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { expiresAt: '2030-01-01T00:00:00.999Z' } });
    expect(fractional.body.data!.updateApiKey.expiresAt).toBe('2030-01-01T00:00:00.000Z');
    expect(tykPut().expires).toBe(1893456000);
  });
});

describe('ill-formed Unicode (lone UTF-16 surrogates)', () => {
  const ID = 'x\ud800';
  const patchFor = { mesa: { removeTags: ['t'] }, basic: { name: 'n' }, tyk: { enabled: true }, plumaa: { name: 'n' } };

  it.each(Object.entries(patchFor))(
    'refuses id "x\\ud800" at %s in update, preview and read (once INTERNAL_SERVER_ERROR), sending nothing',
    async (provider, patch) => {
      const update = await gw.gql(UPDATE, { provider, id: ID, patch });
      expect(errorOf(update)?.extensions, update.text).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
      expect(errorOf(update)!.message).toContain('well-formed Unicode');
      const preview = await gw.gql(
        'query($p: String!, $id: ID!, $patch: ApiKeyPatch!) { previewApiKeyUpdate(provider: $p, id: $id, patch: $patch) { after { id } } }',
        { p: provider, id: ID, patch },
      );
      expect(errorOf(preview)?.extensions.code).toBe('BAD_USER_INPUT');
      if (provider !== 'plumaa') {
        const read = await gw.gql('query($p: String!, $id: ID!) { apiKey(provider: $p, id: $id) { id } }', { p: provider, id: ID });
        expect(errorOf(read)?.extensions.code).toBe('BAD_USER_INPUT');
      }
      expect(upstreamCalls()).toBe(0);
    },
  );

  it('records the id and patch in the audit log with the surrogate escaped, not as U+FFFD', async () => {
    await gw.gql(UPDATE, { provider: 'basic', id: ID, patch: { name: 'n\udc00' } });
    const audit = await gw.gql('{ auditLog(first: 1) { edges { node { keyId patch outcome } } } }');
    expect(audit.body.data!.auditLog.edges[0].node).toEqual({ keyId: 'x\\ud800', patch: { name: 'n\\udc00' }, outcome: 'BAD_USER_INPUT' });
  });

  it.each([
    ['basic', 'b-1', { name: 'a\ud800' }, 'patch.name'],
    ['plumaa', PLUMAA_KEY, { name: '\udfffb' }, 'patch.name'],
    ['basic', 'b-1', { roles: ['read', 'w\ud800'] }, 'patch.roles[1]'],
    ['mesa', 'key_a', { setTags: [{ key: 'k\ud800', value: 'v' }] }, 'patch.setTags[0].key'],
    ['mesa', 'key_a', { setTags: [{ key: 'k', value: 'v\udc00' }] }, 'patch.setTags[0].value'],
    ['mesa', 'key_a', { removeTags: ['\ud800'] }, 'patch.removeTags[0]'],
    ['tyk', TYK_KEY, { tyk: { meta_data: { a: ['ok', 'b\ud800'] } } }, 'patch.tyk.meta_data.a[1]'],
    ['tyk', TYK_KEY, { tyk: { meta_data: { 'k\ud800': 1 } } }, 'patch.tyk.meta_data["k\\ud800"]'],
    ['tyk', TYK_KEY, { tyk: { apply_policies: ['p\udbff'] } }, 'patch.tyk.apply_policies[0]'],
  ])('refuses a lone surrogate in a %s patch string or key, sending nothing', async (provider, id, patch, field) => {
    const res = await gw.gql(UPDATE, { provider, id, patch });
    expectRefused(res, [field]);
  });

  it('names both the access_rights map key and the api_id it came from', async () => {
    const res = await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { tyk: { access_rights: [{ api_id: 'a\ud800' }] } } });
    expectRefused(res, ['patch.tyk.access_rights["a\\ud800"]', 'patch.tyk.access_rights["a\\ud800"].api_id']);
  });

  it('keeps well-formed astral characters (surrogate pairs) exactly as sent', async () => {
    const res = await gw.gql(UPDATE, { provider: 'tyk', id: TYK_KEY, patch: { name: 'key 🔑', tyk: { meta_data: { '🔑': '𝄞' } } } });
    expect(res.body.errors, res.text).toBeUndefined();
    expect(tykPut()).toMatchObject({ alias: 'key 🔑', meta_data: { '🔑': '𝄞' } });
  });

  it('refuses a forged list cursor whose page holds a lone surrogate (the query string would send U+FFFD)', async () => {
    const after = Buffer.from('["mesa","c\\ud800",0]').toString('base64url');
    const res = await gw.gql('query($a: String!) { apiKeys(provider: "mesa", after: $a) { edges { cursor } } }', { a: after });
    expect(errorOf(res)?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    expect(upstreamCalls()).toBe(0);
  });
});

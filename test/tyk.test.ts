import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const SECRET = 'tyk_test_admin_secret_31415';
const HMAC = 'tyk_test_hmac_secret_27182';
const JWT = 'tyk_test_jwt_secret_16180';
const PASSWORD = 'tyk_test_basic_pw_14142';
const ORG = '5e9d9544a1dcd60001d0ed20';
const KEY = `${ORG}e7f75f9e03534825b7aef9df749582e5`;
registerSecret(SECRET, HMAC, JWT, PASSWORD);

let sim: TykSimulator;
let gw: TestGateway;
const original = demoSession('portal-key', ['edge-eu', 'edge'], {
  hmac_enabled: true,
  hmac_string: HMAC,
  jwt_data: { secret: JWT },
  basic_auth_data: { user: 'u', password: PASSWORD, hash_type: 'bcrypt' },
});

beforeAll(async () => {
  sim = await createTykSimulator({ adminSecret: SECRET, keys: { [KEY]: original } });
  gw = await startGateway({
    providers: {
      tyk: { kind: 'tyk', baseUrl: sim.baseUrl, adminSecret: SECRET },
      'tyk-wrong': { kind: 'tyk', baseUrl: sim.baseUrl, adminSecret: 'tyk_wrong_secret_000' },
      'tyk-deadline': { kind: 'tyk', baseUrl: sim.baseUrl, adminSecret: SECRET, timeoutMs: 2000, deadlineMs: 2000 },
    },
  });
  registerSecret('tyk_wrong_secret_000');
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => {
  sim.reset();
  sim.sessions.set(KEY, structuredClone(original));
});

describe('tyk', () => {
  it('reads the session, then PUTs it whole with only the patched fields changed', async () => {
    const res = await gw.gql(UPDATE, {
      provider: 'tyk',
      id: KEY,
      patch: {
        name: 'portal-key-v2',
        enabled: false,
        setTags: [{ key: 'frozen' }],
        removeTags: ['edge'],
        expiresAt: '2030-01-01T00:00:00Z',
        tyk: { rate: 50, per: 30, meta_data: { team: 'payments' } },
      },
    });
    expect(res.body.errors).toBeUndefined();
    const key = res.body.data!.updateApiKey;
    expect(key).toMatchObject({
      provider: 'tyk',
      kind: 'TYK',
      id: KEY,
      name: 'portal-key-v2',
      enabled: false,
      roles: null,
      tags: [
        { key: 'edge-eu', value: null },
        { key: 'frozen', value: null },
      ],
      expiresAt: '2030-01-01T00:00:00.000Z',
    });
    expect(key.raw.hmac_string).toBe('[redacted]');
    expect(key.raw.jwt_data.secret).toBe('[redacted]');
    expect(key.raw.basic_auth_data.password).toBe('[redacted]');

    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /admin/org/keys/${KEY}`, `PUT /admin/org/keys/${KEY}`]);
    for (const r of sim.requests) expect(r.headers['admin-auth']).toBe(SECRET);
    const expected = {
      ...structuredClone(original),
      alias: 'portal-key-v2',
      is_inactive: true,
      tags: ['edge-eu', 'frozen'],
      expires: 1893456000,
      rate: 50,
      per: 30,
      meta_data: { team: 'payments' },
    };
    // Every untouched field, secrets and nested access rights included, goes back unchanged.
    expect(sim.requests[1].body).toEqual(expected);
    expect(sim.sessions.get(KEY)).toMatchObject({ ...expected, last_updated: expect.any(String) });
  });

  it('serialises concurrent updates of one key so that neither is lost', async () => {
    // Slow reads make the two read-modify-writes overlap unless keygate serialises them.
    sim.inject({ method: 'GET', delayMs: 50, times: 2 });
    const [a, b] = await Promise.all([
      gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { setTags: [{ key: 'a' }] } }),
      gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { tyk: { rate: 7 } } }),
    ]);
    expect(a.body.errors).toBeUndefined();
    expect(b.body.errors).toBeUndefined();
    expect(sim.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'PUT']);
    expect(sim.sessions.get(KEY)).toMatchObject({ tags: ['edge-eu', 'edge', 'a'], rate: 7 });
  });

  it('counts the wait for a key’s lock against deadlineMs: a queued update gets only what is left, and one past it sends nothing', async () => {
    // Four updates of one key, each read taking 900 ms of the 2000 ms deadline: the first two
    // reads fill ~1800 ms, so the third update gets the lock with too little left to read.
    sim.inject({ method: 'GET', delayMs: 900, times: 4 });
    const results = await Promise.all(
      ['a', 'b', 'c', 'd'].map((tag) => gw.gql(UPDATE, { provider: 'tyk-deadline', id: KEY, patch: { setTags: [{ key: tag }] } })),
    );
    const errors = results.flatMap((r) => r.body.errors ?? []);
    // The first to take the lock succeeds; the third and fourth answer the deadline error (the
    // second may or may not make it), whichever order the four took the lock in.
    expect(results.filter((r) => r.body.errors === undefined).length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeGreaterThanOrEqual(2);
    for (const e of errors) {
      expect(e.extensions.code).toBe('UPSTREAM_UNAVAILABLE');
      expect(e.message).toContain('deadline of 2000 ms');
    }
    // No update got a fresh deadline after waiting: at most two reads were followed by a PUT.
    expect(sim.requests.filter((r) => r.method === 'PUT').length).toBeLessThanOrEqual(2);
  });

  it('sets typed access_rights, turning the list into Tyk’s map keyed by api_id', async () => {
    const res = await gw.gql(UPDATE, {
      provider: 'tyk',
      id: KEY,
      patch: { tyk: { access_rights: [{ api_id: 'api-1', api_name: 'Payments', versions: ['v1'], allowed_urls: [{ url: '/pay', methods: ['POST'] }] }] } },
    });
    expect(res.body.errors).toBeUndefined();
    expect((sim.requests[1].body as any).access_rights).toEqual({
      'api-1': { api_id: 'api-1', api_name: 'Payments', versions: ['v1'], allowed_urls: [{ url: '/pay', methods: ['POST'] }] },
    });
    expect((sim.requests[1].body as any).rate).toBe(original.rate);
  });

  it('maps 404 "Org key doesn\'t exist" on the read to NOT_FOUND, and never writes', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'tyk', id: 'nope', patch: { enabled: true } })).body.errors![0];
    expect(err.extensions).toEqual({
      requestId: expect.any(String),
      code: 'NOT_FOUND',
      provider: 'tyk',
      upstream: { status: 404, message: "Org key doesn't exist", attempts: 1 },
    });
    expect(sim.writes()).toHaveLength(0);
  });

  it('maps 401 "Not authorised" to UNAUTHENTICATED', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'tyk-wrong', id: KEY, patch: { enabled: true } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 401, message: 'Not authorised' } });
  });

  it('maps the 500 "Updating orgID of org key is not allowed" body to BAD_USER_INPUT', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { tyk: { org_id: 'another-org' } } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 500, message: 'Updating orgID of org key is not allowed' } });
    expect(sim.sessions.get(KEY)?.org_id).toBe(ORG);
  });

  it('maps a 403 "Failed to update session object to Tyk" to FORBIDDEN', async () => {
    sim.inject({ method: 'PUT', response: { status: 403, json: { Status: 'Error', Message: 'Failed to update session object to Tyk', Meta: null } } });
    const err = (await gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { enabled: true } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, message: 'Failed to update session object to Tyk' } });
  });

  it('refuses a tag with a value, and an empty tyk patch, sending nothing', async () => {
    const tagged = (await gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { setTags: [{ key: 'a', value: 'b' }] } })).body.errors![0];
    expect(tagged.extensions.code).toBe('BAD_USER_INPUT');
    const empty = (await gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { tyk: {} } })).body.errors![0];
    expect(empty.extensions.code).toBe('BAD_USER_INPUT');
    expect(empty.message).toContain('the patch is empty');
    const dup = (await gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { tyk: { access_rights: [{ api_id: 'x' }, { api_id: 'x' }] } } })).body.errors![0];
    expect(dup.extensions).toMatchObject({ code: 'BAD_USER_INPUT', provider: 'tyk' });
    expect(dup.message).toContain('patch.tyk.access_rights[1].api_id');
    expect(sim.requests).toHaveLength(0);
  });
});

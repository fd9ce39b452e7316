import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { cloudflareToken, createCloudflareSimulator, type CloudflareSimulator } from '../providers/cloudflare/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const TOKEN = 'cf_test_tokens_write_7a8b9c0d1e2f';
const NO_PERM = 'cf_test_no_permission_3f4e5d6c';
registerSecret(TOKEN, NO_PERM);
const ACCOUNT = '0123456789abcdef0123456789abcdef';
const MODIFIED = new Date('2026-06-06T06:06:06.000Z');
const T1 = 'ed17574386854bf78a67040be0a770b0';

let sim: CloudflareSimulator;
let gw: TestGateway;

beforeAll(async () => {
  const many = Array.from({ length: 53 }, (_, i) => cloudflareToken(`bulk${String(i).padStart(28, '0')}`, `bulk ${i}`));
  sim = await createCloudflareSimulator({
    credentials: { [TOKEN]: { user: true, accounts: [ACCOUNT] }, [NO_PERM]: { user: false, accounts: [] } },
    userTokens: [cloudflareToken(T1, 'CI'), cloudflareToken('t2', 'Ops'), cloudflareToken('t3', 'Race'), cloudflareToken('t4', 'Reader'), ...many],
    accountTokens: { [ACCOUNT]: [cloudflareToken('acct1', 'Account token')] },
    now: () => MODIFIED,
  });
  gw = await startGateway({
    providers: {
      // No pacing: the 429 below would pause the connection (test/rate-limit-headers.test.ts covers that).
      cloudflare: { kind: 'cloudflare', baseUrl: sim.baseUrl, token: TOKEN, rateLimit: false },
      account: { kind: 'cloudflare', baseUrl: sim.baseUrl, token: TOKEN, accountId: ACCOUNT },
      noperm: { kind: 'cloudflare', baseUrl: sim.baseUrl, token: NO_PERM },
      wrong: { kind: 'cloudflare', baseUrl: sim.baseUrl, token: 'cf_not_a_real_token_0000' },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('cloudflare', () => {
  it('reads the token, then PUTs every writable field back with the patch applied', async () => {
    const res = await gw.gql(UPDATE, { provider: 'cloudflare', id: T1, patch: { name: 'CI (frozen)', enabled: false } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({
      kind: 'CLOUDFLARE',
      id: T1,
      name: 'CI (frozen)',
      enabled: false,
      expiresAt: '2027-01-01T00:00:00.000Z',
      updatedAt: MODIFIED.toISOString(),
    });
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /client/v4/user/tokens/${T1}`, `PUT /client/v4/user/tokens/${T1}`]);
    const original = cloudflareToken(T1, 'CI');
    expect(sim.requests[1].body).toEqual({
      name: 'CI (frozen)',
      policies: original.policies,
      status: 'disabled',
      condition: original.condition,
      expires_on: original.expires_on,
      not_before: null,
    });
    expect(sim.requests[1].headers.authorization).toBe(`Bearer ${TOKEN}`);
    // What the PUT did not change is still there (the simulator clears what a PUT omits).
    expect(sim.userTokens.get(T1)).toMatchObject({ condition: original.condition, policies: original.policies });
  });

  it('sets policies, condition, notBefore and expiresAt', async () => {
    const policies = [{ effect: 'deny', permission_groups: [{ id: 'p1' }], resources: { 'com.cloudflare.api.account.*': '*' } }];
    const res = await gw.gql(UPDATE, {
      provider: 'cloudflare',
      id: 't2',
      patch: {
        expiresAt: '2028-02-02T00:00:00Z',
        cloudflare: { policies, condition: { request_ip: { not_in: ['10.0.0.0/8'] } }, notBefore: '2026-07-01T00:00:00Z' },
      },
    });
    expect(res.body.errors).toBeUndefined();
    expect(sim.requests[1].body).toMatchObject({
      name: 'Ops',
      status: 'active',
      policies,
      condition: { request_ip: { not_in: ['10.0.0.0/8'] } },
      expires_on: '2028-02-02T00:00:00.000Z',
      not_before: '2026-07-01T00:00:00.000Z',
    });
    expect(res.body.data?.updateApiKey.expiresAt).toBe('2028-02-02T00:00:00.000Z');
  });

  it('account-owned tokens live under /accounts/{accountId}/tokens', async () => {
    const res = await gw.gql(UPDATE, { provider: 'account', id: 'acct1', patch: { name: 'renamed' } });
    expect(res.body.errors).toBeUndefined();
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /client/v4/accounts/${ACCOUNT}/tokens/acct1`,
      `PUT /client/v4/accounts/${ACCOUNT}/tokens/acct1`,
    ]);
  });

  it('two updates of one token at once both land: the read-modify-writes run one at a time', async () => {
    const [a, b] = await Promise.all([
      gw.gql(UPDATE, { provider: 'cloudflare', id: 't3', patch: { name: 'Race A' } }),
      gw.gql(UPDATE, { provider: 'cloudflare', id: 't3', patch: { enabled: false } }),
    ]);
    expect(a.body.errors).toBeUndefined();
    expect(b.body.errors).toBeUndefined();
    expect(sim.userTokens.get('t3')).toMatchObject({ name: 'Race A', status: 'disabled' });
    expect(sim.requests.map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'PUT']);
  });

  it('reads one token and lists pages of 50 until a short page', async () => {
    const res = await gw.gql(`{
      one: apiKey(provider: "cloudflare", id: "t4") { id name enabled expiresAt }
      page: apiKeys(provider: "cloudflare", first: 100) { edges { node { id } } pageInfo { hasNextPage } }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.one).toEqual({ id: 't4', name: 'Reader', enabled: true, expiresAt: '2027-01-01T00:00:00.000Z' });
    expect(res.body.data?.page.edges).toHaveLength(57);
    expect(sim.requests.filter((r) => r.path === '/client/v4/user/tokens').map((r) => r.query)).toEqual([
      { page: '1', per_page: '50' },
      { page: '2', per_page: '50' },
    ]);
  });

  it('maps the {success: false, errors: [{code, message}]} envelope by code, then status', async () => {
    const wrong = (await gw.gql(UPDATE, { provider: 'wrong', id: T1, patch: { name: 'x' } })).body.errors![0];
    expect(wrong.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      upstream: { status: 403, code: '9109', message: 'Invalid access token', traceId: expect.stringMatching(/-SJC$/) },
    });
    const noperm = (await gw.gql(UPDATE, { provider: 'noperm', id: T1, patch: { name: 'x' } })).body.errors![0];
    expect(noperm.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, code: '10000' } });
    const missing = (await gw.gql(UPDATE, { provider: 'cloudflare', id: 'nope', patch: { name: 'x' } })).body.errors![0];
    expect(missing.extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404, code: '7003' } });
    sim.inject({
      method: 'PUT',
      response: { status: 400, json: { success: false, errors: [{ code: 1001, message: 'policies: bad' }], messages: [], result: null } },
    });
    const bad = (await gw.gql(UPDATE, { provider: 'cloudflare', id: 't4', patch: { name: 'x' } })).body.errors![0];
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, code: '1001', message: 'policies: bad' } });
    sim.inject({
      times: 5,
      response: {
        status: 429,
        headers: { 'retry-after': '300' },
        json: { success: false, errors: [{ code: 971, message: 'Please wait and consider throttling your request speed' }], messages: [], result: null },
      },
    });
    const limited = (await gw.gql(UPDATE, { provider: 'cloudflare', id: 't4', patch: { name: 'x' } })).body.errors![0];
    expect(limited.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 300, code: '971' } });
  });

  it('refuses a long name, empty policies, a bad notBefore and unsupported fields before sending', async () => {
    const res = (await gw.gql(UPDATE, { provider: 'cloudflare', id: T1, patch: { name: 'n'.repeat(121), cloudflare: { policies: [] } } })).body.errors![0];
    expect(res.extensions.code).toBe('BAD_USER_INPUT');
    expect(res.message).toContain('patch.name must be at most 120 characters');
    expect(res.message).toContain('patch.cloudflare.policies must hold at least 1 item');
    expect((await gw.gql(UPDATE, { provider: 'cloudflare', id: T1, patch: { roles: ['x'] } })).body.errors![0].extensions.code).toBe('UNSUPPORTED_FIELD');
    expect(sim.requests).toHaveLength(0);
  });

  it('previews the read and the full PUT, the token redacted, nothing written', async () => {
    const res = await gw.gql(
      `{ previewApiKeyUpdate(provider: "cloudflare", id: "t4", patch: { enabled: false }) { requests { method url headers body } before { enabled } after { enabled } } }`,
    );
    expect(res.body.errors).toBeUndefined();
    const p = res.body.data?.previewApiKeyUpdate;
    expect(p.requests.map((r: { method: string }) => r.method)).toEqual(['GET', 'PUT']);
    expect(p.requests[1].body).toMatchObject({ name: 'Reader', status: 'disabled' });
    expect(p.requests[1].headers.authorization).toBe('Bearer [redacted]');
    expect(p.before.enabled).toBe(true);
    expect(sim.writes()).toHaveLength(0);
  });
});

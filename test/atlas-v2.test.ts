/**
 * Atlas Admin API v2 (versioned media type, v2 error bodies) and service accounts (OAuth 2.0
 * client credentials), over real HTTP against the Atlas simulator.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atlasKey, createAtlasSimulator, type AtlasSimulator } from '../providers/atlas/simulator.ts';
import { resolveConfig } from '../src/config/schema.ts';
import { registerSecret, startGateway, UPDATE, type TestConfigDoc, type TestGateway } from './harness.ts';

const ORG = '5980cfc70b6d97029d82e3f6';
const KEY = '5c47ba5127d9d61b9fd8a27b';
const PUB = 'ownerpub';
const PRIV = 'b1c2d3e4-owner-private-v2-f5a6';
const CLIENT = 'mdb_sa_id_6560b2b1c2d3e4f5a6b7c8d9';
const SECRET = 'mdb_sa_sk_v2test_9c8b7a6f5e4d';
const NEXT_SECRET = 'mdb_sa_sk_v2test_rotated_1a2b';
const MEDIA = 'application/vnd.atlas.2023-01-01+json';
registerSecret(PRIV, SECRET, NEXT_SECRET);

let sim: AtlasSimulator;
const accounts: Record<string, { clientSecret: string; roles: string[] }> = {};

beforeAll(async () => {
  accounts[CLIENT] = { clientSecret: SECRET, roles: ['ORG_OWNER'] };
  sim = await createAtlasSimulator({
    orgId: ORG,
    apiKeys: { [PUB]: { privateKey: PRIV, roles: ['ORG_OWNER'] } },
    serviceAccounts: accounts,
    keys: [atlasKey(KEY, 'CI deploys', ['ORG_MEMBER'], { projectRoles: [{ groupId: '6001aa0000000000000000aa', roleName: 'GROUP_READ_ONLY' }] })],
  });
});
afterAll(async () => {
  // Every token the simulator issued is a credential: the suite-wide scan checks none leaked.
  registerSecret(...sim.issuedTokens());
  await sim?.close();
});
beforeEach(() => {
  sim.reset();
  accounts[CLIENT].clientSecret = SECRET;
});

const tokenRequests = () => sim.requests.filter((r) => r.path === '/api/oauth/token');
const apiRequests = () => sim.requests.filter((r) => r.path !== '/api/oauth/token');
const sa = (extra: Record<string, unknown> = {}) => ({ kind: 'atlas', baseUrl: sim.v2BaseUrl, orgId: ORG, clientId: CLIENT, clientSecret: SECRET, ...extra });

/** A gateway for one test: each has its own connections, so its own token cache. */
async function gateway(providers: TestConfigDoc['providers']): Promise<TestGateway> {
  return startGateway({ providers });
}

function expectNoTokenIn(gw: TestGateway, ...texts: string[]) {
  for (const token of sim.issuedTokens()) {
    for (const line of gw.logs) expect(line).not.toContain(token);
    for (const text of texts) expect(text).not.toContain(token);
  }
}

describe('atlas v2 with an API key (Digest)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await gateway({ atlas: { kind: 'atlas', baseUrl: sim.v2BaseUrl, orgId: ORG, publicKey: PUB, privateKey: PRIV } });
  });
  afterAll(() => gw.close());

  it('PATCHes under /api/atlas/v2 with the versioned Accept and Content-Type', async () => {
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'CI v2', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] } });
    expect(res.body.errors).toBeUndefined();
    // Project roles in the answer are not the org key's roles.
    expect(res.body.data!.updateApiKey).toMatchObject({ id: KEY, name: 'CI v2', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] });
    const patches = sim.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.status)).toEqual([401, 200]);
    expect(patches[1]).toMatchObject({ path: `/api/atlas/v2/orgs/${ORG}/apiKeys/${KEY}`, body: { desc: 'CI v2', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] } });
    expect(patches[1].headers.accept).toBe(MEDIA);
    expect(patches[1].headers['content-type']).toBe(MEDIA);
    expect(patches[1].headers.authorization).toMatch(/^Digest username="ownerpub"/);
  });

  it('reads and lists with the versioned Accept (no Content-Type without a body); roles keep the org roles only', async () => {
    const one = await gw.gql(`{ apiKey(provider: "atlas", id: "${KEY}") { id roles raw } }`);
    expect(one.body.errors).toBeUndefined();
    expect(one.body.data!.apiKey.roles).toEqual(['ORG_MEMBER', 'ORG_READ_ONLY']);
    expect(one.body.data!.apiKey.raw.roles).toContainEqual({ groupId: '6001aa0000000000000000aa', roleName: 'GROUP_READ_ONLY' });
    const list = await gw.gql('{ apiKeys(provider: "atlas", first: 10) { edges { node { id } } } }');
    expect(list.body.errors).toBeUndefined();
    const gets = sim.requests.filter((r) => r.method === 'GET' && r.status === 200);
    expect(gets.map((r) => r.path)).toEqual([`/api/atlas/v2/orgs/${ORG}/apiKeys/${KEY}`, `/api/atlas/v2/orgs/${ORG}/apiKeys`]);
    expect(gets[1].query).toEqual({ pageNum: '1', itemsPerPage: '100' });
    for (const r of gets) {
      expect(r.headers.accept).toBe(MEDIA);
      expect(r.headers['content-type']).toBeUndefined();
    }
  });

  it('maps a v2 400 with badRequestDetail.fields to BAD_USER_INPUT listing the fields', async () => {
    const body = {
      detail: 'Invalid request body.',
      error: 400,
      errorCode: 'VALIDATION_ERROR',
      parameters: [],
      reason: 'Bad Request',
      badRequestDetail: { fields: [{ field: 'desc', description: 'size must be between 1 and 250' }] },
    };
    sim.inject({ method: 'PATCH', response: { status: 400, json: body } });
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } });
    expect(res.body.errors![0].extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      upstream: {
        status: 400,
        code: 'VALIDATION_ERROR',
        message: 'Invalid request body.',
        fields: [{ field: 'desc', description: 'size must be between 1 and 250' }],
      },
    });
  });

  it.each([
    [406, { detail: 'Invalid accept header or version date.', error: 406, errorCode: 'INVALID_VERSION_DATE', parameters: [], reason: 'Not Acceptable' }],
    [400, { detail: 'There is no version number in the request.', error: 400, errorCode: 'INVALID_VERSION_DATE', parameters: [], reason: 'Bad Request' }],
  ])('answers a refused version (%i INVALID_VERSION_DATE) with UPSTREAM_ERROR saying the version is not accepted', async (status, json) => {
    sim.inject({ method: 'PATCH', response: { status, json } });
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } });
    const err = res.body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status, code: 'INVALID_VERSION_DATE' } });
    expect(err.message).toMatch(/the Atlas API version is not accepted/);
  });
});

describe('atlas v1.0 with an API key', () => {
  it('keeps sending plain JSON media types to /api/atlas/v1.0', async () => {
    const gw = await gateway({ atlas: { kind: 'atlas', baseUrl: sim.baseUrl, orgId: ORG, publicKey: PUB, privateKey: PRIV } });
    try {
      const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'CI v1' } });
      expect(res.body.errors).toBeUndefined();
      const ok = sim.requests.filter((r) => r.method === 'PATCH' && r.status === 200)[0];
      expect(ok.path).toBe(`/api/atlas/v1.0/orgs/${ORG}/apiKeys/${KEY}`);
      expect(ok.headers.accept).toBe('application/json');
      expect(ok.headers['content-type']).toBe('application/json');
    } finally {
      await gw.close();
    }
  });
});

describe('atlas service accounts', () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('gets a token (HTTP Basic, form body) and sends it as Bearer; the token is never shown', async () => {
    gw = await gateway({ atlas: sa() });
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'via service account' } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.updateApiKey.name).toBe('via service account');
    const [token] = tokenRequests();
    expect(tokenRequests()).toHaveLength(1);
    expect(token.method).toBe('POST');
    expect(token.headers.authorization).toBe(`Basic ${Buffer.from(`${CLIENT}:${SECRET}`).toString('base64')}`);
    expect(token.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(token.status).toBe(200);
    const patch = apiRequests()[0];
    expect(patch).toMatchObject({ method: 'PATCH', path: `/api/atlas/v2/orgs/${ORG}/apiKeys/${KEY}`, status: 200 });
    expect(patch.headers.authorization).toBe(`Bearer ${sim.issuedTokens()[0]}`);
    expect(patch.headers.accept).toBe(MEDIA);
    const preview = await gw.gql(`{ previewApiKeyUpdate(provider: "atlas", id: "${KEY}", patch: { name: "p" }) { requests { method url headers } } }`);
    expect(preview.body.data!.previewApiKeyUpdate.requests.at(-1)).toMatchObject({
      method: 'PATCH',
      url: `${sim.v2BaseUrl}/orgs/${ORG}/apiKeys/${KEY}`,
      headers: { authorization: 'Bearer [redacted]', accept: MEDIA, 'content-type': MEDIA },
    });
    const audit = await gw.gql('{ auditLog(first: 10) { edges { node { keyId outcome attempts } } } }');
    const metrics = await gw.fetch('/metrics');
    expect(metrics.text).toMatch(/keygate_upstream_requests_total\{provider="atlas",kind="atlas",method="POST",status_class="2xx"\} 1/);
    expectNoTokenIn(gw, res.text, preview.text, audit.text, metrics.text);
  });

  it('redacts the access token wherever a vendor answer echoes it', async () => {
    gw = await gateway({ atlas: sa() });
    await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'first' } });
    const [token] = sim.issuedTokens().slice(-1);
    sim.inject({
      method: 'PATCH',
      response: { status: 400, json: { detail: `Bad token ${token}`, error: 400, errorCode: 'VALIDATION_ERROR', reason: 'Bad Request' } },
    });
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'second' } });
    expect(res.body.errors![0].extensions.upstream.message).toBe('Bad token [redacted]');
    expect(res.text).not.toContain(token);
  });

  it('fetches one token for 50 concurrent calls', async () => {
    gw = await gateway({ atlas: sa({ maxConcurrency: 50 }) });
    const answers = await Promise.all(Array.from({ length: 50 }, () => gw!.gql(`{ apiKey(provider: "atlas", id: "${KEY}") { id } }`)));
    for (const a of answers) expect(a.body.errors).toBeUndefined();
    expect(tokenRequests()).toHaveLength(1);
    expect(apiRequests().filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(new Set(apiRequests().map((r) => r.headers.authorization)).size).toBe(1);
  });

  it('reuses the token across calls, and after a 401 gets one new token and resends once (not an attempt)', async () => {
    gw = await gateway({ atlas: sa() });
    await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'one' } });
    await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'two' } });
    expect(tokenRequests()).toHaveLength(1);
    sim.reset();
    sim.expireTokens();
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'three' } });
    expect(res.body.errors).toBeUndefined();
    expect(sim.requests.map((r) => [r.method, r.status])).toEqual([
      ['PATCH', 401],
      ['POST', 200],
      ['PATCH', 200],
    ]);
    const audit = await gw.gql('{ auditLog(first: 1) { edges { node { outcome attempts } } } }');
    expect(audit.body.data!.auditLog.edges[0].node).toEqual({ outcome: 'OK', attempts: 1 });
  });

  it('answers a 401 to a brand-new token with UNAUTHENTICATED after one renewal, not a loop', async () => {
    gw = await gateway({ atlas: sa() });
    sim.inject({
      method: 'PATCH',
      times: 2,
      response: { status: 401, json: { detail: 'Invalid or expired access token.', error: 401, reason: 'Unauthorized' } },
    });
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } });
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 401 } });
    expect(tokenRequests()).toHaveLength(2);
    expect(sim.requests.filter((r) => r.method === 'PATCH')).toHaveLength(2);
  });

  it('answers refused credentials at the token endpoint with UNAUTHENTICATED, and sends nothing to the API', async () => {
    gw = await gateway({ atlas: sa({ clientSecret: 'mdb_sa_sk_wrong_000000000000' }) });
    registerSecret('mdb_sa_sk_wrong_000000000000');
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } });
    const err = res.body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 401, code: 'invalid_client' } });
    expect(err.message).toMatch(/rejected keygate's credentials.*access token request failed: Invalid client credentials/);
    expect(apiRequests()).toHaveLength(0);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('retries a token endpoint outage like any call (503, then a reset), within the same deadline', async () => {
    gw = await gateway({ atlas: sa({ retry: { attempts: 3, maxDelayMs: 0 } }) });
    sim.inject({ method: 'POST', response: { status: 503, text: 'Service Unavailable' } });
    sim.inject({ method: 'POST', reset: true });
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'after outage' } });
    expect(res.body.errors).toBeUndefined();
    expect(tokenRequests().map((r) => r.status)).toEqual([503, undefined, 200]);
    expect(apiRequests()).toHaveLength(1);
  });

  it('gives up with UPSTREAM_UNAVAILABLE when the token endpoint stays down, and the breaker counts it', async () => {
    gw = await gateway({ atlas: sa({ retry: { attempts: 2, maxDelayMs: 0 }, circuitBreaker: { failures: 2, cooldownMs: 600_000 } }) });
    sim.inject({ method: 'POST', times: 2, reset: true });
    const first = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } });
    expect(first.body.errors![0].extensions).toMatchObject({ code: 'UPSTREAM_UNAVAILABLE', attempts: 2 });
    const second = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } });
    expect(second.body.errors![0].message).toMatch(/circuit open/);
    expect(tokenRequests()).toHaveLength(2);
    expect(apiRequests()).toHaveLength(0);
  });

  it('drops the token when a reload brings a new clientSecret', async () => {
    gw = await gateway({ atlas: sa() });
    await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'before' } });
    expect(tokenRequests()).toHaveLength(1);
    accounts[CLIENT].clientSecret = NEXT_SECRET;
    await gw.keygate.gateway.reload(resolveConfig({ providers: { atlas: sa({ clientSecret: NEXT_SECRET }) }, audit: false }));
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'after' } });
    expect(res.body.errors).toBeUndefined();
    const tokens = tokenRequests();
    expect(tokens).toHaveLength(2);
    expect(tokens[1].headers.authorization).toBe(`Basic ${Buffer.from(`${CLIENT}:${NEXT_SECRET}`).toString('base64')}`);
  });
});

describe('the Atlas simulator (v2 and the token endpoint)', () => {
  const basic = (secret = SECRET) => `Basic ${Buffer.from(`${CLIENT}:${secret}`).toString('base64')}`;
  const token = (body: string, authorization = basic()) =>
    fetch(`${sim.origin}/api/oauth/token`, { method: 'POST', headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body });

  it('refuses a v2 call without the versioned Accept with 406 INVALID_VERSION_DATE, and serves it with one', async () => {
    const { access_token } = (await (await token('grant_type=client_credentials')).json()) as { access_token: string };
    registerSecret(access_token);
    const url = `${sim.v2BaseUrl}/orgs/${ORG}/apiKeys/${KEY}`;
    const plain = await fetch(url, { headers: { authorization: `Bearer ${access_token}`, accept: 'application/json' } });
    expect(plain.status).toBe(406);
    expect(await plain.json()).toEqual({
      detail: 'Invalid accept header or version date.',
      error: 406,
      errorCode: 'INVALID_VERSION_DATE',
      parameters: [],
      reason: 'Not Acceptable',
    });
    const versioned = await fetch(url, { headers: { authorization: `Bearer ${access_token}`, accept: MEDIA } });
    expect(versioned.status).toBe(200);
  });

  it('answers the token endpoint’s refusals with {error, error_description}', async () => {
    const wrong = await token('grant_type=client_credentials', basic('nope'));
    expect([wrong.status, await wrong.json()]).toEqual([401, { error: 'invalid_client', error_description: 'Invalid client credentials.' }]);
    const grant = await token('grant_type=password');
    expect([grant.status, await grant.json()]).toEqual([400, { error: 'unsupported_grant_type', error_description: 'Invalid grant type.' }]);
  });
});

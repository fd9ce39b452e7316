import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { atlasKey, createAtlasSimulator, type AtlasSimulator } from '../providers/atlas/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const ORG = '5980cfc70b6d97029d82e3f6';
const PUB = 'ownerpub';
const PRIV = 'a1b2c3d4-owner-private-key-e5f6';
const MEMBER_PRIV = 'f6e5d4c3-member-private-key-b2a1';
const KEY = '5c47ba5127d9d61b9fd8a27b';
registerSecret(PRIV, MEMBER_PRIV);

let sim: AtlasSimulator;
let gw: TestGateway;
const keyPrivate = 'atlas-managed-key-private-0000-1111';
registerSecret(keyPrivate);

beforeAll(async () => {
  sim = await createAtlasSimulator({
    orgId: ORG,
    apiKeys: { [PUB]: { privateKey: PRIV, roles: ['ORG_OWNER'] }, memberpub: { privateKey: MEMBER_PRIV, roles: ['ORG_MEMBER'] } },
    keys: [atlasKey(KEY, 'CI deploys', ['ORG_MEMBER'], { privateKey: keyPrivate })],
  });
  gw = await startGateway({
    providers: {
      // No pacing: a 429 below would pause the connection (test/rate-limit.test.ts covers that).
      atlas: { kind: 'atlas', baseUrl: sim.baseUrl, orgId: ORG, publicKey: PUB, privateKey: PRIV, rateLimit: false },
      'atlas-member': { kind: 'atlas', baseUrl: sim.baseUrl, orgId: ORG, publicKey: 'memberpub', privateKey: MEMBER_PRIV },
      'atlas-wrong': { kind: 'atlas', baseUrl: sim.baseUrl, orgId: ORG, publicKey: PUB, privateKey: 'not-the-private-key-9999' },
    },
  });
  registerSecret('not-the-private-key-9999');
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

const patchAuth = () => sim.requests.filter((r) => r.method === 'PATCH').map((r) => r.headers.authorization);

describe('atlas', () => {
  it('answers the Digest challenge and PATCHes {desc, roles}; roles come back as roleNames', async () => {
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'CI pipeline', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] } });
    expect(res.body.errors).toBeUndefined();
    const key = res.body.data!.updateApiKey;
    expect(key).toMatchObject({ provider: 'atlas', kind: 'ATLAS', id: KEY, name: 'CI pipeline', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'], enabled: null });
    expect(key.raw.privateKey).toBe('[redacted]');
    expect(key.raw.desc).toBe('CI pipeline');
    const patches = sim.requests.filter((r) => r.method === 'PATCH');
    expect(patches.map((r) => r.status)).toEqual([401, 200]);
    expect(patches[1].path).toBe(`/api/atlas/v1.0/orgs/${ORG}/apiKeys/${KEY}`);
    expect(patches[1].body).toEqual({ desc: 'CI pipeline', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] });
    expect(patchAuth()[1]).toMatch(
      new RegExp(`^Digest username="${PUB}", realm="MMS Public API", nonce="[^"]+", uri="/api/atlas/v1.0/orgs/${ORG}/apiKeys/${KEY}"`),
    );
    expect(patchAuth()[1]).toContain('qop=auth');
    expect(patchAuth()[1]).not.toContain(PRIV);
  });

  it('reuses the nonce for the next call (one round trip) and re-authenticates once when it goes stale', async () => {
    await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'one' } });
    sim.reset();
    await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'two' } });
    expect(sim.requests.map((r) => r.status)).toEqual([200]);
    sim.reset();
    sim.expireNonces();
    const res = await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'three' } });
    expect(res.body.errors).toBeUndefined();
    expect(sim.requests.map((r) => r.status)).toEqual([401, 200]);
    expect(sim.keys.get(KEY)?.desc).toBe('three');
  });

  it('stays correct under concurrency: 20 parallel updates all authenticate', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: `parallel ${i}` } })));
    for (const r of results) expect(r.body.errors).toBeUndefined();
    expect(sim.writes()).toHaveLength(20);
  });

  it('maps 400 API_KEY_NOT_FOUND to NOT_FOUND (body first, status second)', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'atlas', id: '5c47ba5127d9d61b9fd8a999', patch: { name: 'x' } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'NOT_FOUND', provider: 'atlas', upstream: { status: 400, code: 'API_KEY_NOT_FOUND' } });
    expect(err.extensions.upstream.message).toContain('No API key with ID');
  });

  it('maps a wrong private key to UNAUTHENTICATED and a member key to FORBIDDEN (401 NOT_ORG_OWNER)', async () => {
    const wrong = (await gw.gql(UPDATE, { provider: 'atlas-wrong', id: KEY, patch: { name: 'x' } })).body.errors![0];
    expect(wrong.extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 401 } });
    const member = (await gw.gql(UPDATE, { provider: 'atlas-member', id: KEY, patch: { name: 'x' } })).body.errors![0];
    expect(member.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 401, code: 'NOT_ORG_OWNER' } });
    expect(sim.writes()).toHaveLength(0);
  });

  it('maps 429 RATE_LIMITED with Retry-After', async () => {
    sim.inject({
      method: 'PATCH',
      times: 2,
      response: {
        status: 429,
        headers: { 'retry-after': '55' },
        json: { detail: 'Rate limit exceeded', error: 429, errorCode: 'RATE_LIMITED', reason: 'Too Many Requests' },
      },
    });
    const err = (await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { name: 'x' } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, code: 'RATE_LIMITED', retryAfter: 55 } });
  });

  it('maps INVALID_ROLE_FOR_ORG from the vendor to BAD_USER_INPUT', async () => {
    sim.inject({
      method: 'PATCH',
      times: 2,
      response: {
        status: 400,
        json: { detail: 'Role ORG_OWNER invalid for organization.', error: 400, errorCode: 'INVALID_ROLE_FOR_ORG', reason: 'Bad Request' },
      },
    });
    const err = (await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch: { roles: ['ORG_OWNER'] } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, code: 'INVALID_ROLE_FOR_ORG' } });
  });

  it.each([
    ['a description over 250 characters', { name: 'd'.repeat(251) }],
    ['an empty description', { name: '' }],
    ['an empty role list', { roles: [] }],
    ['a project role', { roles: ['GROUP_OWNER'] }],
  ])('refuses %s locally, sending nothing', async (_what, patch) => {
    const err = (await gw.gql(UPDATE, { provider: 'atlas', id: KEY, patch })).body.errors![0];
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    expect(sim.requests).toHaveLength(0);
  });
});

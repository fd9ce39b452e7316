import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createPlumaaSimulator, PLUMAA_DEMO, plumaaKey, type PlumaaSimulator } from '../providers/plumaa/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const TOKEN = 'plm_live_test_token_0a1b2c3d4e5f';
const OTHER_ORG_TOKEN = 'plm_live_other_org_token_9f8e7d';
const ORG = PLUMAA_DEMO.organization;
const OTHER_ORG = { ...ORG, id: '65a1f0c2e4b0a1b2c3d4e5ff' };
const KEY_ID = '65b2c3d4e5f6a7b8c9d0e1aa';
const KEY_SECRET = 'plm_live_key_secret_must_never_leak_42';
registerSecret(TOKEN, OTHER_ORG_TOKEN, KEY_SECRET);

let sim: PlumaaSimulator;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createPlumaaSimulator({
    tokens: { [TOKEN]: ORG.id, [OTHER_ORG_TOKEN]: OTHER_ORG.id },
    keys: [plumaaKey(KEY_ID, 'Signing', ORG, { secret: KEY_SECRET })],
  });
  gw = await startGateway({
    providers: {
      plumaa: { kind: 'plumaa', baseUrl: sim.baseUrl, token: TOKEN },
      'plumaa-other': { kind: 'plumaa', baseUrl: sim.baseUrl, token: OTHER_ORG_TOKEN },
      'plumaa-bad': { kind: 'plumaa', baseUrl: sim.baseUrl, token: 'plm_live_not_a_token_777' },
    },
  });
  registerSecret('plm_live_not_a_token_777');
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('plumaa', () => {
  it('PUTs {input} in the body and the same JSON in ?input=, and never returns the key secret', async () => {
    const res = await gw.gql(UPDATE, { provider: 'plumaa', id: KEY_ID, patch: { name: 'Signing v2', enabled: false } });
    expect(res.body.errors).toBeUndefined();
    const key = res.body.data!.updateApiKey;
    expect(key).toMatchObject({ provider: 'plumaa', kind: 'PLUMAA', id: KEY_ID, name: 'Signing v2', enabled: false, roles: null });
    expect(key.raw.secret).toBe('[redacted]');
    expect(key.raw.organization.id).toBe(ORG.id);
    expect(res.text).not.toContain(KEY_SECRET);
    const [req] = sim.requests;
    expect(req.method).toBe('PUT');
    expect(req.path).toBe('/rest/v1/api-key');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    const input = { id: KEY_ID, name: 'Signing v2', enabled: false };
    expect(req.body).toEqual({ input });
    expect(JSON.parse(req.query.input)).toEqual(input);
    expect(sim.keys.get(KEY_ID)).toMatchObject({ name: 'Signing v2', enabled: false });
  });

  it('maps SOFA HTTP 500 errors by extensions.code: NOT_FOUND, PERMISSION_DENIED, UNAUTHENTICATED', async () => {
    const before = structuredClone(sim.keys.get(KEY_ID));
    const nf = (await gw.gql(UPDATE, { provider: 'plumaa', id: '65b2c3d4e5f6a7b8c9d0e1ff', patch: { enabled: true } })).body.errors![0];
    expect(nf.extensions).toMatchObject({ code: 'NOT_FOUND', provider: 'plumaa', upstream: { status: 500, code: 'NOT_FOUND' } });
    const pd = (await gw.gql(UPDATE, { provider: 'plumaa-other', id: KEY_ID, patch: { enabled: true } })).body.errors![0];
    expect(pd.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 500, code: 'PERMISSION_DENIED' } });
    const ua = (await gw.gql(UPDATE, { provider: 'plumaa-bad', id: KEY_ID, patch: { enabled: true } })).body.errors![0];
    expect(ua.extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 500, code: 'UNAUTHENTICATED' } });
    expect(sim.keys.get(KEY_ID)).toEqual(before);
  });

  it('maps a SOFA error without a code to UPSTREAM_ERROR with its message', async () => {
    sim.inject({ response: { status: 500, json: { errors: [{ message: 'database unavailable' }] } } });
    const err = (await gw.gql(UPDATE, { provider: 'plumaa', id: KEY_ID, patch: { enabled: true } })).body.errors![0];
    expect(err.extensions).toEqual({
      requestId: expect.any(String),
      code: 'UPSTREAM_ERROR',
      provider: 'plumaa',
      upstream: { status: 500, message: 'database unavailable', attempts: 1 },
    });
  });

  it('refuses roles and tags with UNSUPPORTED_FIELD, sending nothing', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'plumaa', id: KEY_ID, patch: { roles: ['x'] } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'UNSUPPORTED_FIELD', allowed: ['name', 'enabled'] });
    expect(sim.requests).toHaveLength(0);
  });
});

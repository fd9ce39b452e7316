import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const PROJECT = 'proj-1';
const TOKEN = 'basic_test_token_5e6f7a8b';
registerSecret(TOKEN);

let sim: BasicSimulator;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createBasicSimulator({
    projects: { [PROJECT]: { tokens: [TOKEN] }, other: { tokens: ['basic_other_token_zz'] } },
    keys: { [PROJECT]: [basicKey('key-1', 'Mobile', 'read,write')] },
  });
  gw = await startGateway({
    providers: {
      basic: { kind: 'basic', baseUrl: sim.baseUrl, project: PROJECT, token: TOKEN },
      'basic-wrong': { kind: 'basic', baseUrl: sim.baseUrl, project: PROJECT, token: 'basic_other_token_zz' },
    },
  });
  registerSecret('basic_other_token_zz');
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('basic', () => {
  it('PATCHes {label, roles} with roles comma-joined and returns roles as a list', async () => {
    const res = await gw.gql(UPDATE, { provider: 'basic', id: 'key-1', patch: { name: 'Mobile v2', roles: ['read', 'write', 'admin'] } });
    expect(res.body.errors).toBeUndefined();
    const key = res.body.data!.updateApiKey;
    expect(key).toMatchObject({
      provider: 'basic',
      kind: 'BASIC',
      id: 'key-1',
      name: 'Mobile v2',
      roles: ['read', 'write', 'admin'],
      enabled: null,
      tags: null,
    });
    expect(Date.parse(key.updatedAt!)).not.toBeNaN();
    expect(sim.requests).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({
      method: 'PATCH',
      path: `/project/${PROJECT}/key/key-1`,
      body: { label: 'Mobile v2', roles: 'read,write,admin' },
    });
    expect(sim.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('sends only the fields given', async () => {
    await gw.gql(UPDATE, { provider: 'basic', id: 'key-1', patch: { name: 'Only label' } });
    expect(sim.requests[0].body).toEqual({ label: 'Only label' });
  });

  it('maps 404 {error} to NOT_FOUND and 401 {error, message} to UNAUTHENTICATED', async () => {
    const nf = (await gw.gql(UPDATE, { provider: 'basic', id: 'nope', patch: { name: 'x' } })).body.errors![0];
    expect(nf.extensions).toEqual({
      requestId: expect.any(String),
      code: 'NOT_FOUND',
      provider: 'basic',
      upstream: { status: 404, code: 'API key not found', message: 'API key not found', attempts: 1 },
    });
    const un = (await gw.gql(UPDATE, { provider: 'basic-wrong', id: 'key-1', patch: { name: 'x' } })).body.errors![0];
    expect(un.extensions).toMatchObject({ code: 'UNAUTHENTICATED', provider: 'basic-wrong', upstream: { status: 401, code: 'unauthorized' } });
  });

  it('maps a vendor 400 {error, message} to BAD_USER_INPUT', async () => {
    sim.inject({ response: { status: 400, json: { error: 'bad_request', message: 'unknown role "owner"' } } });
    const err = (await gw.gql(UPDATE, { provider: 'basic', id: 'key-1', patch: { roles: ['owner'] } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, code: 'bad_request', message: 'unknown role "owner"' } });
  });

  it.each([
    ['a role with a comma', { roles: ['read,write'] }],
    ['an empty role list', { roles: [] }],
    ['an empty name', { name: '' }],
  ])('refuses %s locally, sending nothing', async (_what, patch) => {
    const err = (await gw.gql(UPDATE, { provider: 'basic', id: 'key-1', patch })).body.errors![0];
    expect(err.extensions.code).toBe('BAD_USER_INPUT');
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses tags and enabled with UNSUPPORTED_FIELD', async () => {
    const err = (await gw.gql(UPDATE, { provider: 'basic', id: 'key-1', patch: { enabled: true, removeTags: ['x'] } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'UNSUPPORTED_FIELD', fields: ['enabled', 'removeTags'], allowed: ['name', 'roles'] });
    expect(sim.requests).toHaveLength(0);
  });
});

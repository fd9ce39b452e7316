import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSendGridSimulator, type SendGridSimulator } from '../providers/sendgrid/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const TOKEN = 'SG.test_admin.key_4f5e6d7c8b9a';
const READ_ONLY = 'SG.test_read.key_1a2b3c4d5e6f';
registerSecret(TOKEN, READ_ONLY);

const key = (api_key_id: string, name: string, scopes: string[]) => ({ api_key_id, name, scopes });

let sim: SendGridSimulator;
let flat: SendGridSimulator;
let gw: TestGateway;

beforeAll(async () => {
  const options = {
    tokens: { [TOKEN]: ['api_keys.read', 'api_keys.update'], [READ_ONLY]: ['api_keys.read'] },
    keys: [
      key('qfTQ6KG0QBiwWdJ0-pCLCA', 'A New Hope', ['mail.send']),
      key('k2', 'Second', ['stats.read']),
      key('k4', 'Fourth', ['stats.read']),
      key('k5', 'Fifth', ['stats.read']),
    ],
    subusers: { 'sub-eu': [key('sub_k1', 'Subuser key', ['mail.send'])] },
  };
  sim = await createSendGridSimulator(options);
  flat = await createSendGridSimulator({ ...options, flatGet: true });
  gw = await startGateway({
    providers: {
      // No pacing: the 429 below would pause the connection (test/rate-limit-headers.test.ts covers that).
      sendgrid: { kind: 'sendgrid', baseUrl: sim.baseUrl, token: TOKEN, rateLimit: false },
      flat: { kind: 'sendgrid', baseUrl: flat.baseUrl, token: TOKEN },
      sub: { kind: 'sendgrid', baseUrl: sim.baseUrl, token: TOKEN, onBehalfOf: 'sub-eu' },
      readonly: { kind: 'sendgrid', baseUrl: sim.baseUrl, token: READ_ONLY },
      wrong: { kind: 'sendgrid', baseUrl: sim.baseUrl, token: 'SG.not.a_real_key_000' },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
  await flat?.close();
});
beforeEach(() => {
  sim.reset();
  flat.reset();
});

describe('sendgrid', () => {
  it('renames with PATCH {name}, Bearer auth, and answers the key', async () => {
    const res = await gw.gql(UPDATE, { provider: 'sendgrid', id: 'qfTQ6KG0QBiwWdJ0-pCLCA', patch: { name: 'The Empire' } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({
      provider: 'sendgrid',
      kind: 'SENDGRID',
      id: 'qfTQ6KG0QBiwWdJ0-pCLCA',
      name: 'The Empire',
      roles: null,
      raw: { api_key_id: 'qfTQ6KG0QBiwWdJ0-pCLCA', name: 'The Empire' },
    });
    expect(sim.requests).toHaveLength(1);
    expect(sim.requests[0]).toMatchObject({ method: 'PATCH', path: '/v3/api_keys/qfTQ6KG0QBiwWdJ0-pCLCA', body: { name: 'The Empire' } });
    expect(sim.requests[0].headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(sim.requests[0].headers['on-behalf-of']).toBeUndefined();
  });

  it('changes scopes with PUT {name, scopes}, reading the name first when the patch has none', async () => {
    const res = await gw.gql(UPDATE, { provider: 'sendgrid', id: 'k2', patch: { roles: ['stats.read', 'mail.send'] } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({ id: 'k2', name: 'Second', roles: ['stats.read', 'mail.send'] });
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /v3/api_keys/k2', 'PUT /v3/api_keys/k2']);
    expect(sim.requests[1].body).toEqual({ name: 'Second', scopes: ['stats.read', 'mail.send'] });
  });

  it('with name and scopes sends one PUT and no read; a flat GET answer is read as well', async () => {
    await gw.gql(UPDATE, { provider: 'sendgrid', id: 'k2', patch: { name: 'Renamed', roles: ['mail.send'] } });
    expect(sim.requests.map((r) => r.method)).toEqual(['PUT']);
    expect(sim.requests[0].body).toEqual({ name: 'Renamed', scopes: ['mail.send'] });
    const res = await gw.gql(UPDATE, { provider: 'flat', id: 'k2', patch: { roles: ['stats.read'] } });
    expect(res.body.errors).toBeUndefined();
    expect(flat.requests[1].body).toEqual({ name: 'Second', scopes: ['stats.read'] });
  });

  it('sends on-behalf-of for a subuser connection', async () => {
    const res = await gw.gql(UPDATE, { provider: 'sub', id: 'sub_k1', patch: { name: 'EU' } });
    expect(res.body.errors).toBeUndefined();
    expect(sim.requests[0].headers['on-behalf-of']).toBe('sub-eu');
    expect(sim.subuserKeys.get('sub-eu')?.get('sub_k1')?.name).toBe('EU');
  });

  it('reads one key ({result: [key]} and flat) and lists keys', async () => {
    const res = await gw.gql(`{
      a: apiKey(provider: "sendgrid", id: "k4") { id name roles }
      b: apiKey(provider: "flat", id: "k4") { id name roles }
      all: apiKeys(provider: "sendgrid", first: 10) { edges { node { id name roles } } }
      p: providers { name operations }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.a).toEqual({ id: 'k4', name: 'Fourth', roles: ['stats.read'] });
    expect(res.body.data?.b).toEqual({ id: 'k4', name: 'Fourth', roles: ['stats.read'] });
    expect(res.body.data?.all.edges.map((e: any) => e.node.id)).toEqual(['qfTQ6KG0QBiwWdJ0-pCLCA', 'k2', 'k4', 'k5']);
    expect(res.body.data?.all.edges[2].node).toEqual({ id: 'k4', name: 'Fourth', roles: null });
    expect(sim.requests.find((r) => r.path === '/v3/api_keys')?.query).toEqual({ limit: '100' });
    expect(res.body.data?.p[0].operations).toEqual(['read', 'list', 'update', 'preview']);
  });

  it('maps {errors: [{field, message}]}: 401, 403, 404 and 400 with the field in upstream', async () => {
    const wrong = (await gw.gql(UPDATE, { provider: 'wrong', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(wrong.extensions).toMatchObject({ code: 'UNAUTHENTICATED', upstream: { status: 401, message: 'Permission denied, wrong credentials' } });
    const ro = (await gw.gql(UPDATE, { provider: 'readonly', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(ro.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, message: 'access forbidden' } });
    const missing = (await gw.gql(UPDATE, { provider: 'sendgrid', id: 'nope', patch: { name: 'x' } })).body.errors![0];
    expect(missing.extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404 } });
    sim.inject({
      response: {
        status: 400,
        json: {
          errors: [
            { field: 'name', message: 'is too long' },
            { field: null, message: 'bad request' },
          ],
        },
      },
    });
    const bad = (await gw.gql(UPDATE, { provider: 'sendgrid', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, message: 'name: is too long; bad request' } });
  });

  it('429 without Retry-After: retryAfter from X-RateLimit-Reset (epoch seconds)', async () => {
    const reset = Math.floor(Date.now() / 1000) + 120;
    sim.inject({
      times: 5,
      response: { status: 429, headers: { 'x-ratelimit-reset': String(reset) }, json: { errors: [{ field: null, message: 'too many requests' }] } },
    });
    const err = (await gw.gql(UPDATE, { provider: 'sendgrid', id: 'k2', patch: { name: 'x' } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, message: 'too many requests' } });
    expect(err.extensions.upstream.retryAfter).toBeGreaterThanOrEqual(100);
    expect(err.extensions.upstream.retryAfter).toBeLessThanOrEqual(121);
  });

  it('refuses what SendGrid cannot change, an empty name and empty scopes before sending', async () => {
    const enabled = (await gw.gql(UPDATE, { provider: 'sendgrid', id: 'k2', patch: { enabled: false } })).body.errors![0];
    expect(enabled.extensions.code).toBe('UNSUPPORTED_FIELD');
    const empty = (await gw.gql(UPDATE, { provider: 'sendgrid', id: 'k2', patch: { name: '', roles: [] } })).body.errors![0];
    expect(empty.extensions.code).toBe('BAD_USER_INPUT');
    expect(empty.message).toContain('patch.name must be at least 1 character');
    expect(empty.message).toContain('patch.roles must hold at least 1 item');
    expect(sim.requests).toHaveLength(0);
  });

  it('previews the read and the PUT, the token redacted', async () => {
    const res = await gw.gql(
      '{ previewApiKeyUpdate(provider: "sendgrid", id: "k5", patch: { roles: ["mail.send"] }) { requests { method url headers body } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const [read, put] = res.body.data!.previewApiKeyUpdate.requests;
    expect(read).toMatchObject({ method: 'GET', url: `${sim.baseUrl}/api_keys/k5` });
    expect(put).toMatchObject({ method: 'PUT', body: { name: 'Fifth', scopes: ['mail.send'] } });
    expect(put.headers.authorization).toBe('[redacted]');
    expect(sim.writes()).toHaveLength(0);
  });
});

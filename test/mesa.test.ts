import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const TOKEN = 'mesa_test_admin_9f8e7d6c';
const READ_TOKEN = 'mesa_test_read_1a2b3c4d';
registerSecret(TOKEN, READ_TOKEN);

let sim: MesaSimulator;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createMesaSimulator({
    org: 'acme',
    tokens: { [TOKEN]: ['admin'], [READ_TOKEN]: ['read'] },
    keys: [demoKey('key_abc123', 'CI', { env: 'prod', team: 'platform' }), demoKey('key_revoked', 'Old', {}, { revoked_at: '2026-01-01T00:00:00Z' })],
  });
  gw = await startGateway({
    providers: {
      mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN },
      'mesa-readonly': { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: READ_TOKEN },
      'mesa-wrong': { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: 'mesa_not_a_real_token_x' },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('mesa', () => {
  it('sets and removes tags with one PATCH of {tags}, Bearer auth, and returns the merged tags', async () => {
    const res = await gw.gql(UPDATE, {
      provider: 'mesa',
      id: 'key_abc123',
      patch: { setTags: [{ key: 'owner', value: 'alice' }], removeTags: ['team'] },
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({
      provider: 'mesa',
      kind: 'MESA',
      id: 'key_abc123',
      name: null,
      enabled: null,
      tags: [
        { key: 'env', value: 'prod' },
        { key: 'owner', value: 'alice' },
      ],
      raw: { tags: { env: 'prod', owner: 'alice' } },
    });
    expect(sim.requests).toHaveLength(1);
    const [req] = sim.requests;
    expect(req.method).toBe('PATCH');
    expect(req.path).toBe('/v1/acme/api-keys/key_abc123');
    expect(req.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(req.headers['content-type']).toMatch(/application\/json/);
    expect(req.body).toEqual({ tags: { owner: 'alice', team: null } });
    expect(sim.keys.get('key_abc123')?.tags).toEqual({ env: 'prod', owner: 'alice' });
  });

  it('never echoes a configured credential, even one a client put into a tag', async () => {
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_abc123', patch: { setTags: [{ key: 'leak', value: TOKEN }] } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data!.updateApiKey.tags).toContainEqual({ key: 'leak', value: '[redacted]' });
    expect(res.text).not.toContain(TOKEN);
    await gw.gql(UPDATE, { provider: 'mesa', id: 'key_abc123', patch: { removeTags: ['leak'] } });
  });

  it('maps Mesa 404 API_KEY_NOT_FOUND to NOT_FOUND with the vendor code', async () => {
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_missing', patch: { removeTags: ['x'] } });
    expect(res.body.data).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    const [err] = res.body.errors!;
    expect(err.path).toEqual(['updateApiKey']);
    expect(err.message).toContain('mesa');
    expect(err.message).toContain('key_missing');
    expect(err.extensions).toMatchObject({
      code: 'NOT_FOUND',
      provider: 'mesa',
      upstream: { status: 404, code: 'API_KEY_NOT_FOUND' },
    });
  });

  it('maps a revoked key (409) to CONFLICT', async () => {
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_revoked', patch: { setTags: [{ key: 'a', value: 'b' }] } });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', upstream: { status: 409, code: 'API_KEY_REVOKED' } });
  });

  it('maps bad credentials (401) to UNAUTHENTICATED and a token without admin scope (403) to FORBIDDEN', async () => {
    const bad = await gw.gql(UPDATE, { provider: 'mesa-wrong', id: 'key_abc123', patch: { removeTags: ['env'] } });
    expect(bad.body.errors?.[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', provider: 'mesa-wrong', upstream: { status: 401, code: 'UNAUTHORIZED' } });
    const ro = await gw.gql(UPDATE, { provider: 'mesa-readonly', id: 'key_abc123', patch: { removeTags: ['env'] } });
    expect(ro.body.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, code: 'FORBIDDEN' } });
    expect(sim.keys.get('key_abc123')?.tags.env).toBe('prod');
  });

  it.each([
    [400, 'VALIDATION_ERROR', 'BAD_USER_INPUT'],
    [406, 'NOT_ACCEPTABLE', 'UPSTREAM_ERROR'],
    [500, 'INTERNAL', 'UPSTREAM_ERROR'],
  ])('maps a Mesa %i %s body to %s, with trace_id when given', async (status, vendorCode, code) => {
    sim.inject({ response: { status, json: { error: { code: vendorCode, message: 'boom', trace_id: 'tr_123' } } } });
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_abc123', patch: { removeTags: ['env'] } });
    expect(res.body.errors?.[0].extensions).toEqual({
      requestId: expect.any(String),
      code,
      provider: 'mesa',
      upstream: { status, code: vendorCode, message: 'boom', traceId: 'tr_123', attempts: 1 },
    });
  });

  it('maps 429 to RATE_LIMITED with retryAfter from Retry-After', async () => {
    // Longer than retry.maxDelayMs (10 s): answered at once rather than waited out.
    sim.inject({ response: { status: 429, headers: { 'retry-after': '17' }, json: { error: { code: 'RATE_LIMITED', message: 'slow down' } } } });
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_abc123', patch: { removeTags: ['env'] } });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 17, attempts: 1 } });
  });

  it.each([
    ['a key longer than 64 characters', { setTags: [{ key: 'k'.repeat(65), value: 'v' }] }, 'setTags[0].key'],
    ['a value longer than 256 characters', { setTags: [{ key: 'k', value: 'v'.repeat(257) }] }, 'setTags[0].value'],
    ['a tag without a value', { setTags: [{ key: 'k' }] }, 'setTags[0].value'],
    ['a tag both set and removed', { setTags: [{ key: 'k', value: 'v' }], removeTags: ['K'] }, 'removeTags[0]'],
  ])('refuses %s locally, sending nothing', async (_what, patch, field) => {
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_abc123', patch });
    expect(res.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(res.body.errors?.[0].message).toContain(`patch.${field}`);
    expect(sim.requests).toHaveLength(0);
  });

  it('refuses fields Mesa cannot change with UNSUPPORTED_FIELD, naming what is allowed', async () => {
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_abc123', patch: { name: 'x', enabled: false } });
    const [err] = res.body.errors!;
    expect(err.extensions).toMatchObject({ code: 'UNSUPPORTED_FIELD', provider: 'mesa', fields: ['name', 'enabled'], allowed: ['setTags', 'removeTags'] });
    expect(err.message).toContain('setTags, removeTags');
    expect(sim.requests).toHaveLength(0);
  });
});

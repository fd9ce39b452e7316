import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { confluentKey, createConfluentSimulator, type ConfluentSimulator } from '../providers/confluent/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const KEY = 'CLOUDTESTKEY0001';
const SECRET = 'cfltTestSecret0123456789abcdefABCDEF';
const READER = 'CLOUDTESTREAD002';
const READER_SECRET = 'cfltReaderSecret9876543210fedcba';
registerSecret(KEY, SECRET, READER, READER_SECRET);
const MODIFIED = new Date('2026-05-05T05:05:05.000Z');

let sim: ConfluentSimulator;
let gw: TestGateway;

beforeAll(async () => {
  const many = Array.from({ length: 103 }, (_, i) => confluentKey(`BULK${String(i).padStart(12, '0')}`, `bulk ${i}`));
  sim = await createConfluentSimulator({
    credentials: { [KEY]: { secret: SECRET, write: true }, [READER]: { secret: READER_SECRET, write: false } },
    keys: [confluentKey('ABCD1234567890AB', 'orders', 'old'), confluentKey('EFGH1234567890CD', 'analytics'), ...many],
    now: () => MODIFIED,
  });
  gw = await startGateway({
    providers: {
      // No pacing: the 429 below would pause the connection (test/rate-limit-headers.test.ts covers that).
      confluent: { kind: 'confluent', baseUrl: sim.baseUrl, apiKey: KEY, apiSecret: SECRET, rateLimit: false },
      reader: { kind: 'confluent', baseUrl: sim.baseUrl, apiKey: READER, apiSecret: READER_SECRET },
      wrong: { kind: 'confluent', baseUrl: sim.baseUrl, apiKey: KEY, apiSecret: 'not-the-secret-0000' },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('confluent', () => {
  it('PATCHes {spec: {display_name, description}} with HTTP Basic and answers the key', async () => {
    const res = await gw.gql(UPDATE, { provider: 'confluent', id: 'ABCD1234567890AB', patch: { name: 'orders-v2', confluent: { description: 'rotated' } } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({
      kind: 'CONFLUENT',
      id: 'ABCD1234567890AB',
      name: 'orders-v2',
      updatedAt: MODIFIED.toISOString(),
      raw: { spec: { display_name: 'orders-v2', description: 'rotated' } },
    });
    expect(sim.requests).toHaveLength(1);
    const [req] = sim.requests;
    expect(req).toMatchObject({
      method: 'PATCH',
      path: '/iam/v2/api-keys/ABCD1234567890AB',
      body: { spec: { display_name: 'orders-v2', description: 'rotated' } },
    });
    expect(req.headers.authorization).toBe(`Basic ${Buffer.from(`${KEY}:${SECRET}`).toString('base64')}`);
  });

  it('sends only the fields the patch sets', async () => {
    await gw.gql(UPDATE, { provider: 'confluent', id: 'EFGH1234567890CD', patch: { confluent: { description: 'only this' } } });
    expect(sim.requests[0].body).toEqual({ spec: { description: 'only this' } });
    expect(sim.keys.get('EFGH1234567890CD')?.spec.display_name).toBe('analytics');
  });

  it('reads one key and lists by following metadata.next (path and query only)', async () => {
    const res = await gw.gql(`{
      one: apiKey(provider: "confluent", id: "EFGH1234567890CD") { id name }
      page: apiKeys(provider: "confluent", first: 100) { edges { node { id } } pageInfo { hasNextPage endCursor } }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.one).toEqual({ id: 'EFGH1234567890CD', name: 'analytics' });
    expect(res.body.data?.page.edges).toHaveLength(100);
    const next = await gw.gql(
      `{ apiKeys(provider: "confluent", first: 100, after: "${res.body.data?.page.pageInfo.endCursor}") { edges { node { id } } pageInfo { hasNextPage } } }`,
    );
    expect(next.body.errors).toBeUndefined();
    expect(next.body.data?.apiKeys.edges).toHaveLength(5);
    const lists = sim.requests.filter((r) => r.path === '/iam/v2/api-keys');
    expect(lists[0].query).toEqual({ page_size: '100' });
    expect(lists.at(-1)?.query).toMatchObject({ page_size: '100', page_token: expect.any(String) });
  });

  it('maps {errors: [{status, code, detail, source}]}: 401, 403, 404 (no code), 422 with the pointer', async () => {
    const wrong = (await gw.gql(UPDATE, { provider: 'wrong', id: 'ABCD1234567890AB', patch: { name: 'x' } })).body.errors![0];
    expect(wrong.extensions).toMatchObject({
      code: 'UNAUTHENTICATED',
      upstream: { status: 401, code: 'user_unauthenticated', message: 'Valid authentication credentials must be provided' },
    });
    const reader = (await gw.gql(UPDATE, { provider: 'reader', id: 'ABCD1234567890AB', patch: { name: 'x' } })).body.errors![0];
    expect(reader.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, code: 'user_unauthorized' } });
    const missing = (await gw.gql(UPDATE, { provider: 'confluent', id: 'NOPE000000000000', patch: { name: 'x' } })).body.errors![0];
    expect(missing.extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404, message: 'Not Found' } });
    expect(missing.extensions.upstream.traceId).toEqual(expect.any(String));
    sim.inject({
      response: {
        status: 422,
        json: {
          errors: [{ id: 'e1', status: '422', code: 'invalid_configuration', title: 'Invalid', detail: 'too long', source: { pointer: '/spec/display_name' } }],
        },
      },
    });
    const bad = (await gw.gql(UPDATE, { provider: 'confluent', id: 'ABCD1234567890AB', patch: { name: 'x' } })).body.errors![0];
    expect(bad.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      upstream: { status: 422, code: 'invalid_configuration', message: '/spec/display_name: too long', traceId: 'e1' },
    });
  });

  it('429 with Retry-After is RATE_LIMITED with retryAfter', async () => {
    sim.inject({
      times: 5,
      response: { status: 429, headers: { 'retry-after': '90' }, json: { errors: [{ status: '429', code: 'too_many_requests', title: 'Too Many Requests' }] } },
    });
    const err = (await gw.gql(UPDATE, { provider: 'confluent', id: 'ABCD1234567890AB', patch: { name: 'x' } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 90, code: 'too_many_requests' } });
  });

  it('refuses unsupported fields before sending, and previews with Basic redacted', async () => {
    expect((await gw.gql(UPDATE, { provider: 'confluent', id: 'ABCD1234567890AB', patch: { enabled: false } })).body.errors![0].extensions.code).toBe(
      'UNSUPPORTED_FIELD',
    );
    expect(sim.requests).toHaveLength(0);
    const res = await gw.gql(
      '{ previewApiKeyUpdate(provider: "confluent", id: "ABCD1234567890AB", patch: { confluent: { description: "d" } }) { requests { method headers body } } }',
    );
    expect(res.body.errors).toBeUndefined();
    const req = res.body.data?.previewApiKeyUpdate.requests.at(-1);
    expect(req).toMatchObject({ method: 'PATCH', body: { spec: { description: 'd' } } });
    expect(req.headers.authorization).toBe('Basic [redacted]');
    expect(sim.writes()).toHaveLength(0);
  });
});

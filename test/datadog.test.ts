import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createDatadogSimulator, datadogKey, type DatadogSimulator } from '../providers/datadog/simulator.ts';
import { ConfigError, resolveConfig } from '../src/config/schema.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const API_KEY = 'dd_test_api_key_5a6b7c8d9e0f1a2b';
const APP_KEY = 'dd_test_app_key_1f2e3d4c5b6a7988';
const READ_APP_KEY = 'dd_test_read_app_key_99887766';
const SECRET_1 = 'ddsecretkeyvalue0000111122223333';
const SECRET_2 = 'ddsecretkeyvalue4444555566667777';
registerSecret(API_KEY, APP_KEY, READ_APP_KEY, SECRET_1, SECRET_2);
const ID = '00112233-4455-6677-8899-aabbccddeeff';
const MODIFIED = new Date('2026-04-01T12:00:00.000Z');

let sim: DatadogSimulator;
let gw: TestGateway;

beforeAll(async () => {
  const many = Array.from({ length: 103 }, (_, i) =>
    datadogKey(`20000000-0000-0000-0000-${String(i).padStart(12, '0')}`, `bulk ${i}`, `ddbulksecret${String(i).padStart(20, '0')}`),
  );
  for (const k of many) registerSecret(k.attributes.key);
  sim = await createDatadogSimulator({
    apiKeys: [API_KEY],
    appKeys: { [APP_KEY]: ['api_keys_read', 'api_keys_write'], [READ_APP_KEY]: ['api_keys_read'] },
    keys: [datadogKey(ID, 'Agent', SECRET_1), datadogKey('10112233-4455-6677-8899-aabbccddeeff', 'Logs', SECRET_2), ...many],
    now: () => MODIFIED,
  });
  gw = await startGateway({
    providers: {
      datadog: { kind: 'datadog', baseUrl: sim.baseUrl, apiKey: API_KEY, appKey: APP_KEY },
      readonly: { kind: 'datadog', baseUrl: sim.baseUrl, apiKey: API_KEY, appKey: READ_APP_KEY },
    },
  });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('datadog', () => {
  it('renames with a JSON:API PATCH, both key headers, and redacts the full key in raw', async () => {
    const res = await gw.gql(UPDATE, { provider: 'datadog', id: ID, patch: { name: 'Agent (rotated)' } });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({
      kind: 'DATADOG',
      id: ID,
      name: 'Agent (rotated)',
      updatedAt: MODIFIED.toISOString(),
      raw: { id: ID, attributes: { name: 'Agent (rotated)', key: '[redacted]', last4: SECRET_1.slice(-4) } },
    });
    expect(res.text).not.toContain(SECRET_1);
    expect(sim.requests).toHaveLength(1);
    const [req] = sim.requests;
    expect(req).toMatchObject({ method: 'PATCH', path: `/api/v2/api_keys/${ID}` });
    expect(req.body).toEqual({ data: { type: 'api_keys', id: ID, attributes: { name: 'Agent (rotated)' } } });
    expect(req.headers['dd-api-key']).toBe(API_KEY);
    expect(req.headers['dd-application-key']).toBe(APP_KEY);
  });

  it('reads one key (secret redacted) and lists every page of 100', async () => {
    const res = await gw.gql(`{
      one: apiKey(provider: "datadog", id: "10112233-4455-6677-8899-aabbccddeeff") { id name raw }
      page: apiKeys(provider: "datadog", first: 100) { edges { node { id } } pageInfo { hasNextPage endCursor } }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.one).toMatchObject({ name: 'Logs', raw: { attributes: { key: '[redacted]' } } });
    expect(res.text).not.toContain(SECRET_2);
    expect(res.body.data?.page.edges).toHaveLength(100);
    const lists = sim.requests.filter((r) => r.path === '/api/v2/api_keys');
    expect(lists[0].query).toEqual({ 'page[number]': '0', 'page[size]': '100' });
    const next = await gw.gql(
      `{ apiKeys(provider: "datadog", first: 100, after: "${res.body.data?.page.pageInfo.endCursor}") { edges { node { id } } pageInfo { hasNextPage } } }`,
    );
    expect(next.body.data?.apiKeys.edges).toHaveLength(5);
    expect(next.body.data?.apiKeys.pageInfo.hasNextPage).toBe(false);
    expect(sim.requests.filter((r) => r.path === '/api/v2/api_keys').map((r) => r.query['page[number]'])).toContain('1');
  });

  it('previews the PATCH with both keys redacted', async () => {
    const res = await gw.gql(
      `{ previewApiKeyUpdate(provider: "datadog", id: "${ID}", patch: { name: "p" }) { requests { method url headers body } before { raw } } }`,
    );
    expect(res.body.errors).toBeUndefined();
    const { requests, before } = res.body.data!.previewApiKeyUpdate;
    expect(requests.at(-1).headers).toMatchObject({ 'dd-api-key': '[redacted]', 'dd-application-key': '[redacted]' });
    expect(before.raw.attributes.key).toBe('[redacted]');
    expect(sim.writes()).toHaveLength(0);
  });

  it('maps {errors: [string]}: 403 without the write scope, 404, 400; object errors are read too', async () => {
    const ro = (await gw.gql(UPDATE, { provider: 'readonly', id: ID, patch: { name: 'x' } })).body.errors![0];
    expect(ro.extensions).toMatchObject({ code: 'FORBIDDEN', upstream: { status: 403, message: 'Forbidden' } });
    const missing = (await gw.gql(UPDATE, { provider: 'datadog', id: '99999999-4455-6677-8899-aabbccddeeff', patch: { name: 'x' } })).body.errors![0];
    expect(missing.extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404, message: 'Not found' } });
    sim.inject({ response: { status: 400, json: { errors: ['name is too long', 'Bad Request'] } } });
    const bad = (await gw.gql(UPDATE, { provider: 'datadog', id: ID, patch: { name: 'x' } })).body.errors![0];
    expect(bad.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 400, message: 'name is too long; Bad Request' } });
    sim.inject({ response: { status: 422, json: { errors: [{ status: '422', code: 'invalid', title: 'Invalid', detail: 'name must be unique' }] } } });
    const obj = (await gw.gql(UPDATE, { provider: 'datadog', id: ID, patch: { name: 'x' } })).body.errors![0];
    expect(obj.extensions).toMatchObject({ code: 'BAD_USER_INPUT', upstream: { status: 422, code: 'invalid', message: 'name must be unique' } });
  });

  it('429: RATE_LIMITED with retryAfter from X-RateLimit-Reset', async () => {
    sim.inject({
      times: 5,
      response: { status: 429, headers: { 'x-ratelimit-reset': '42', 'x-ratelimit-period': '60' }, json: { errors: ['Too many requests'] } },
    });
    const err = (await gw.gql(UPDATE, { provider: 'datadog', id: ID, patch: { name: 'x' } })).body.errors![0];
    expect(err.extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 42 } });
  });

  it('refuses an empty name and other fields before sending', async () => {
    expect((await gw.gql(UPDATE, { provider: 'datadog', id: ID, patch: { name: '' } })).body.errors![0].extensions.code).toBe('BAD_USER_INPUT');
    expect((await gw.gql(UPDATE, { provider: 'datadog', id: ID, patch: { enabled: false } })).body.errors![0].extensions.code).toBe('UNSUPPORTED_FIELD');
    expect(sim.requests).toHaveLength(0);
  });
});

describe('datadog config', () => {
  const resolve = (extra: Record<string, unknown>) =>
    resolveConfig({ providers: { dd: { kind: 'datadog', apiKey: API_KEY, appKey: APP_KEY, ...extra } }, audit: false });
  it('the base URL follows the site; baseUrl overrides it', () => {
    expect(resolve({}).providers.get('dd')?.settings.baseUrl).toBe('https://api.datadoghq.com');
    expect(resolve({ site: 'datadoghq.eu' }).providers.get('dd')?.settings.baseUrl).toBe('https://api.datadoghq.eu');
    expect(resolve({ site: 'ddog-gov.com', baseUrl: 'https://proxy.example/dd' }).providers.get('dd')?.settings.baseUrl).toBe('https://proxy.example/dd');
  });
  it('an unknown site stops start-up naming the path', () => {
    expect(() => resolve({ site: 'datadoghq.moon' })).toThrow(ConfigError);
    try {
      resolve({ site: 'datadoghq.moon' });
    } catch (err) {
      expect((err as ConfigError).problems[0]).toMatch(/^providers\.dd\.site: /);
    }
  });
});

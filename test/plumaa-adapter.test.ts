import { describe, expect, it } from 'vitest';
import { plumaaAdapter, type PlumaaConfig } from '../providers/plumaa/adapter.ts';
import type { UpstreamResponse } from '../providers/types.ts';

const cfg: PlumaaConfig = { baseUrl: 'https://api.plumaa.id/rest/v1', token: 'plm_live_config_token' };
const ID = '65b2c3d4e5f6a7b8c9d0e1f2';

const response = (status: number, json: unknown): UpstreamResponse => ({
  status,
  headers: new Headers({ 'content-type': 'application/json' }),
  json,
  text: JSON.stringify(json),
});
const sofa = (...errors: unknown[]) => response(500, { errors });

const apiKey = {
  id: ID,
  enabled: false,
  name: 'Firma backend',
  secret: 'plm_live_8c1d4e7f2a5b9c0d3e6f1a4b7c2d5e8f',
  organization: { id: '65a1f0c2e4b0a1b2c3d4e5f6', name: 'Notaría Demo', logo: null, emailAddress: 'a@b.mx', createdAt: 'x', updatedAt: 'y' },
  createdAt: '2026-01-20T12:00:00.000Z',
  updatedAt: '2026-03-02T08:30:00.000Z',
};

describe('plumaa adapter', () => {
  it('describes itself', () => {
    expect(plumaaAdapter.kind).toBe('plumaa');
    expect(plumaaAdapter.defaultBaseUrl).toBe('https://api.plumaa.id/rest/v1');
    expect(plumaaAdapter.patchFields).toEqual(['name', 'enabled']);
    expect(plumaaAdapter.secretConfigFields).toEqual(['token']);
    expect(plumaaAdapter.secretBodyFields).toEqual(['secret']);
    expect(plumaaAdapter.auth(cfg)).toEqual({ type: 'bearer', token: 'plm_live_config_token' });
  });

  it('validates config: token is required', () => {
    expect(plumaaAdapter.configSchema.safeParse({ token: 't' }).success).toBe(true);
    expect(plumaaAdapter.configSchema.safeParse({}).success).toBe(false);
    expect(plumaaAdapter.configSchema.safeParse({ token: '' }).success).toBe(false);
  });

  it('rejects an empty name and accepts the rest', () => {
    expect(plumaaAdapter.validate({ name: '' })).toEqual([{ field: 'name', message: expect.any(String) }]);
    expect(plumaaAdapter.validate({ name: 'ok', enabled: false })).toEqual([]);
    expect(plumaaAdapter.validate({ enabled: true })).toEqual([]);
  });

  it('builds PUT /api-key with the same input in the body and as JSON in the query', () => {
    const req = plumaaAdapter.buildUpdate(cfg, ID, { name: 'New', enabled: false });
    expect(req).toEqual({
      method: 'PUT',
      path: '/api-key',
      query: { input: JSON.stringify({ id: ID, name: 'New', enabled: false }) },
      body: { input: { id: ID, name: 'New', enabled: false } },
    });
    expect(JSON.parse(req.query!.input)).toEqual((req.body as { input: unknown }).input);
  });

  it('sends only the fields in the patch, and enabled=false as a Boolean', () => {
    expect(plumaaAdapter.buildUpdate(cfg, ID, { enabled: false }).body).toEqual({ input: { id: ID, enabled: false } });
    expect(plumaaAdapter.buildUpdate(cfg, ID, { name: 'n', enabled: null }).query).toEqual({ input: `{"id":"${ID}","name":"n"}` });
  });

  it('normalizes the ApiKey answer, keeping the body as raw (the gateway redacts secret)', () => {
    const sent = plumaaAdapter.buildUpdate(cfg, ID, { enabled: false });
    expect(plumaaAdapter.normalize(apiKey, ID, sent)).toEqual({
      id: ID,
      name: 'Firma backend',
      enabled: false,
      roles: null,
      tags: null,
      expiresAt: null,
      updatedAt: new Date('2026-03-02T08:30:00.000Z'),
      raw: apiKey,
    });
  });

  it('returns undefined for a body that is not an ApiKey', () => {
    const sent = plumaaAdapter.buildUpdate(cfg, ID, { enabled: false });
    const { organization: _o, ...noOrg } = apiKey;
    for (const body of [undefined, null, {}, { errors: [{ message: 'x' }] }, noOrg, { ...apiKey, enabled: 'false' }, 'ok'])
      expect(plumaaAdapter.normalize(body, ID, sent)).toBeUndefined();
  });

  it.each([
    ['NOT_FOUND', 'NOT_FOUND'],
    ['PERMISSION_DENIED', 'FORBIDDEN'],
    ['FORBIDDEN', 'FORBIDDEN'],
    ['UNAUTHENTICATED', 'UNAUTHENTICATED'],
    ['UNAUTHORIZED', 'UNAUTHENTICATED'],
    ['BAD_USER_INPUT', 'BAD_USER_INPUT'],
    ['BAD_REQUEST', 'BAD_USER_INPUT'],
    ['GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT'],
    ['CONFLICT', 'CONFLICT'],
    ['RATE_LIMITED', 'RATE_LIMITED'],
  ])('maps SOFA extensions.code %s to %s', (vendorCode, code) => {
    expect(plumaaAdapter.mapError(sofa({ message: 'boom', path: ['updateApiKey'], extensions: { code: vendorCode } }))).toEqual({
      code,
      vendorCode,
      message: 'boom',
    });
  });

  it('leaves the code to the status for unknown vendor codes (including Object.prototype names)', () => {
    expect(plumaaAdapter.mapError(sofa({ message: 'oops', extensions: { code: 'INTERNAL_SERVER_ERROR' } }))).toEqual({
      vendorCode: 'INTERNAL_SERVER_ERROR',
      message: 'oops',
    });
    expect(plumaaAdapter.mapError(sofa({ message: 'x', extensions: { code: 'constructor' } }))).toEqual({ vendorCode: 'constructor', message: 'x' });
  });

  it('joins every message and takes the first error code', () => {
    const res = sofa({ message: 'first', extensions: { code: 'BAD_USER_INPUT' } }, { message: 'second', extensions: { code: 'NOT_FOUND' } });
    expect(plumaaAdapter.mapError(res)).toEqual({ code: 'BAD_USER_INPUT', vendorCode: 'BAD_USER_INPUT', message: 'first; second' });
  });

  it("reads SOFA's 400 without a code", () => {
    expect(plumaaAdapter.mapError(response(400, { errors: [{ message: 'POST body sent invalid JSON.' }] }))).toEqual({
      message: 'POST body sent invalid JSON.',
    });
  });

  it('reads nothing from bodies of another shape', () => {
    expect(plumaaAdapter.mapError(response(502, undefined))).toEqual({});
    expect(plumaaAdapter.mapError(response(500, { errors: [] }))).toEqual({});
    expect(plumaaAdapter.mapError(response(500, { message: 'custom handler' }))).toEqual({});
  });
});

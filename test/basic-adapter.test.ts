import { describe, expect, it } from 'vitest';
import { basicAdapter, type BasicConfig } from '../providers/basic/adapter.ts';
import type { UpstreamResponse } from '../providers/types.ts';

const cfg: BasicConfig = { baseUrl: 'https://api.basic.tech', project: 'proj 1/2', token: 'tok_basic_secret' };

const response = (status: number, json: unknown): UpstreamResponse => ({
  status,
  headers: new Headers({ 'content-type': 'application/json' }),
  json,
  text: JSON.stringify(json),
});

describe('basic adapter', () => {
  it('describes itself', () => {
    expect(basicAdapter.kind).toBe('basic');
    expect(basicAdapter.defaultBaseUrl).toBe('https://api.basic.tech');
    expect(basicAdapter.patchFields).toEqual(['name', 'roles']);
    expect(basicAdapter.secretConfigFields).toEqual(['token']);
    expect(basicAdapter.secretBodyFields).toEqual([]);
    expect(basicAdapter.auth(cfg)).toEqual({ type: 'bearer', token: 'tok_basic_secret' });
  });

  it('validates config: project and token are required', () => {
    expect(basicAdapter.configSchema.safeParse({ project: 'p', token: 't' }).success).toBe(true);
    expect(basicAdapter.configSchema.safeParse({ project: 'p' }).success).toBe(false);
    expect(basicAdapter.configSchema.safeParse({ project: '', token: 't' }).success).toBe(false);
  });

  it('accepts a non-empty name and a clean list of roles', () => {
    expect(basicAdapter.validate({ name: 'Mobile', roles: ['read', 'write'] })).toEqual([]);
    expect(basicAdapter.validate({ name: null, roles: null })).toEqual([]);
  });

  it('rejects an empty name', () => {
    expect(basicAdapter.validate({ name: '' })).toEqual([{ field: 'name', message: expect.any(String) }]);
  });

  it('rejects an empty roles list, empty roles, commas, surrounding whitespace and duplicates', () => {
    expect(basicAdapter.validate({ roles: [] })).toEqual([{ field: 'roles', message: expect.any(String) }]);
    const problems = basicAdapter.validate({ roles: ['read', '', 'a,b', ' admin', 'read'] });
    expect(problems.map((p) => p.field)).toEqual(['roles[1]', 'roles[2]', 'roles[3]', 'roles[4]']);
  });

  it('builds PATCH /project/{project}/key/{id} with label and comma-joined roles', () => {
    expect(basicAdapter.buildUpdate(cfg, 'key/1', { name: 'Mobile', roles: ['read', 'write'] })).toEqual({
      method: 'PATCH',
      path: '/project/proj%201%2F2/key/key%2F1',
      body: { label: 'Mobile', roles: 'read,write' },
    });
  });

  it('sends only the fields in the patch', () => {
    expect(basicAdapter.buildUpdate(cfg, 'k', { name: 'Only name' }).body).toEqual({ label: 'Only name' });
    expect(basicAdapter.buildUpdate(cfg, 'k', { roles: ['admin'], name: null }).body).toEqual({ roles: 'admin' });
  });

  it('normalizes the 200 answer: label -> name, roles split, updated_at -> updatedAt, raw = body', () => {
    const body = { key: { id: 'k1', label: 'Mobile', roles: 'read, write,,admin', updated_at: '2026-03-01T12:00:00.000Z' } };
    const sent = basicAdapter.buildUpdate(cfg, 'k1', { name: 'Mobile' });
    expect(basicAdapter.normalize(body, 'k1', sent)).toEqual({
      id: 'k1',
      name: 'Mobile',
      enabled: null,
      roles: ['read', 'write', 'admin'],
      tags: null,
      expiresAt: null,
      updatedAt: new Date('2026-03-01T12:00:00.000Z'),
      raw: body,
    });
  });

  it('normalizes absent fields to null', () => {
    const sent = basicAdapter.buildUpdate(cfg, 'k1', { name: 'x' });
    expect(basicAdapter.normalize({ key: { id: 'k1' } }, 'k1', sent)).toMatchObject({ name: null, roles: null, updatedAt: null });
  });

  it('returns undefined for a body that is not the documented answer', () => {
    const sent = basicAdapter.buildUpdate(cfg, 'k1', { name: 'x' });
    for (const body of [undefined, null, {}, { id: 'k1' }, { key: { label: 'x' } }, { key: { id: 'k1', roles: ['a'] } }, '<html>'])
      expect(basicAdapter.normalize(body, 'k1', sent)).toBeUndefined();
  });

  it('maps {error, message} to vendorCode and message', () => {
    expect(basicAdapter.mapError(response(400, { error: 'bad_request', message: 'body/roles must be string' }))).toEqual({
      vendorCode: 'bad_request',
      message: 'body/roles must be string',
    });
    expect(basicAdapter.mapError(response(401, { error: 'unauthorized', message: 'Invalid token' }))).toEqual({
      vendorCode: 'unauthorized',
      message: 'Invalid token',
    });
  });

  it('uses the error string as the message of a 404 {error}', () => {
    expect(basicAdapter.mapError(response(404, { error: 'API key not found' }))).toEqual({ vendorCode: 'API key not found', message: 'API key not found' });
  });

  it('reads nothing from bodies of another shape', () => {
    expect(basicAdapter.mapError(response(502, undefined))).toEqual({});
    expect(basicAdapter.mapError(response(500, { error: { code: 'x' } }))).toEqual({});
  });
});

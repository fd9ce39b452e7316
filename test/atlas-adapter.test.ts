import { describe, expect, it } from 'vitest';
import { atlasAdapter, type AtlasConfig } from '../providers/atlas/adapter.ts';
import { ATLAS_ORG_ROLES } from '../providers/atlas/wire.ts';
import type { UpstreamResponse } from '../providers/types.ts';

const ORG = '5980cfc70b6d97029d82e3f6';
const ID = '5c47ba5127d9d61b9fd8a27b';
const cfg: AtlasConfig = {
  baseUrl: 'https://cloud.mongodb.com/api/atlas/v1.0',
  orgId: ORG,
  publicKey: 'qwmzxbtr',
  privateKey: '9b2e41c7-5d3a-4f86-a1e0-7c4d2b8f0e19',
};

const response = (status: number, json: unknown): UpstreamResponse => ({
  status,
  headers: new Headers({ 'content-type': 'application/json' }),
  json,
  text: JSON.stringify(json),
});
const apiError = (status: number, errorCode: string, detail: string, reason: string) =>
  response(status, { detail, error: status, errorCode, parameters: [], reason });

/** The seed's example response. */
const seedBody = {
  desc: 'Updated API key description for test purposes',
  id: ID,
  links: [{ href: `https://cloud.mongodb.com/api/atlas/v1.0/orgs/5980cfc70b6d12029d82e3f6/apiKeys/${ID}`, rel: 'self' }],
  privateKey: '********-****-****-db2c132ca78d',
  publicKey: '{PUBLIC-KEY}',
  roles: [
    { orgId: ORG, roleName: 'ORG_MEMBER' },
    { orgId: ORG, roleName: 'ORG_READ_ONLY' },
  ],
};

describe('atlas adapter', () => {
  it('describes itself', () => {
    expect(atlasAdapter.kind).toBe('atlas');
    expect(atlasAdapter.defaultBaseUrl).toBe('https://cloud.mongodb.com/api/atlas/v2');
    expect(atlasAdapter.patchFields).toEqual(['name', 'roles']);
    expect(atlasAdapter.secretConfigFields).toEqual(['privateKey', 'clientSecret']);
    expect(atlasAdapter.secretBodyFields).toEqual(['privateKey']);
    expect(atlasAdapter.auth(cfg)).toEqual({ type: 'digest', username: 'qwmzxbtr', password: '9b2e41c7-5d3a-4f86-a1e0-7c4d2b8f0e19' });
  });

  it('validates config: orgId and one whole credential set are required', () => {
    expect(atlasAdapter.configSchema.safeParse({ orgId: ORG, publicKey: 'p', privateKey: 'k' }).success).toBe(true);
    expect(atlasAdapter.checkConfig!({ ...cfg, privateKey: undefined })).toEqual([{ field: 'privateKey', message: 'required with publicKey' }]);
    expect(atlasAdapter.configSchema.safeParse({ orgId: '', publicKey: 'p', privateKey: 'k' }).success).toBe(false);
    expect(atlasAdapter.configSchema.safeParse({ orgId: ORG, publicKey: '', privateKey: 'k' }).success).toBe(false);
  });

  describe('validate', () => {
    it('accepts a 1..250 character name and valid org roles', () => {
      expect(atlasAdapter.validate({ name: 'x' })).toEqual([]);
      expect(atlasAdapter.validate({ name: 'x'.repeat(250), roles: [...ATLAS_ORG_ROLES] })).toEqual([]);
      expect(atlasAdapter.validate({})).toEqual([]);
    });

    it('refuses an empty or 251-character name', () => {
      expect(atlasAdapter.validate({ name: '' })).toEqual([{ field: 'name', message: expect.stringContaining('1..250') }]);
      expect(atlasAdapter.validate({ name: 'x'.repeat(251) })).toEqual([{ field: 'name', message: expect.stringContaining('1..250') }]);
    });

    it('refuses empty roles, unknown roles (listing the allowed ones) and duplicates', () => {
      expect(atlasAdapter.validate({ roles: [] })).toEqual([{ field: 'roles', message: expect.stringContaining('at least one role') }]);
      const unknown = atlasAdapter.validate({ roles: ['ORG_MEMBER', 'GROUP_OWNER'] });
      expect(unknown).toEqual([{ field: 'roles[1]', message: expect.stringContaining('GROUP_OWNER') }]);
      for (const role of ATLAS_ORG_ROLES) expect(unknown[0].message).toContain(role);
      expect(atlasAdapter.validate({ roles: ['ORG_MEMBER', 'ORG_MEMBER'] })).toEqual([
        { field: 'roles[1]', message: expect.stringContaining('more than once') },
      ]);
    });
  });

  describe('buildUpdate', () => {
    it('PATCHes the org key with desc and roles', () => {
      expect(atlasAdapter.buildUpdate(cfg, ID, { name: 'CI', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] })).toEqual({
        method: 'PATCH',
        path: `/orgs/${ORG}/apiKeys/${ID}`,
        body: { desc: 'CI', roles: ['ORG_MEMBER', 'ORG_READ_ONLY'] },
      });
    });

    it('sends only the fields given', () => {
      expect(atlasAdapter.buildUpdate(cfg, ID, { name: 'CI' }).body).toEqual({ desc: 'CI' });
      expect(atlasAdapter.buildUpdate(cfg, ID, { roles: ['ORG_OWNER'], name: null }).body).toEqual({ roles: ['ORG_OWNER'] });
    });

    it('encodes path segments', () => {
      expect(atlasAdapter.buildUpdate({ ...cfg, orgId: 'a/b' }, 'c d', { name: 'x' }).path).toBe('/orgs/a%2Fb/apiKeys/c%20d');
    });
  });

  describe('normalize', () => {
    const sent = { method: 'PATCH' as const, path: `/orgs/${ORG}/apiKeys/${ID}` };

    it("reads the seed's example response", () => {
      expect(atlasAdapter.normalize(seedBody, ID, sent)).toEqual({
        id: ID,
        name: 'Updated API key description for test purposes',
        enabled: null,
        roles: ['ORG_MEMBER', 'ORG_READ_ONLY'],
        tags: null,
        expiresAt: null,
        updatedAt: null,
        raw: seedBody,
      });
    });

    it('keeps unknown vendor fields in raw', () => {
      const body = { ...seedBody, extra: 1 };
      expect(atlasAdapter.normalize(body, ID, sent)?.raw).toEqual(body);
    });

    it('returns undefined for bodies that are not the documented shape', () => {
      expect(atlasAdapter.normalize(undefined, ID, sent)).toBeUndefined();
      expect(atlasAdapter.normalize('<html></html>', ID, sent)).toBeUndefined();
      expect(atlasAdapter.normalize({ ...seedBody, roles: 'ORG_MEMBER' }, ID, sent)).toBeUndefined();
      const { desc: _, ...noDesc } = seedBody;
      expect(atlasAdapter.normalize(noDesc, ID, sent)).toBeUndefined();
    });
  });

  describe('mapError', () => {
    it('maps Atlas 400 API_KEY_NOT_FOUND to NOT_FOUND', () => {
      expect(atlasAdapter.mapError(apiError(400, 'API_KEY_NOT_FOUND', `No API key with ID ${ID} exists.`, 'Bad Request'))).toEqual({
        code: 'NOT_FOUND',
        vendorCode: 'API_KEY_NOT_FOUND',
        message: `No API key with ID ${ID} exists.`,
      });
    });

    it.each([
      ['RESOURCE_NOT_FOUND', 404, 'NOT_FOUND'],
      ['ORG_NOT_FOUND', 404, 'NOT_FOUND'],
      ['INVALID_ORG_ID', 404, 'NOT_FOUND'],
      ['NOT_ORG_OWNER', 401, 'FORBIDDEN'],
      ['NOT_API_KEY_ADMIN', 401, 'FORBIDDEN'],
      ['USER_CANNOT_ACCESS_ORG', 401, 'FORBIDDEN'],
      ['USER_UNAUTHORIZED', 401, 'FORBIDDEN'],
      ['IP_ADDRESS_NOT_ON_WHITELIST', 403, 'FORBIDDEN'],
      ['ORG_REQUIRES_WHITELIST', 403, 'FORBIDDEN'],
      ['CANNOT_DEMOTE_LAST_ORG_OWNER', 403, 'FORBIDDEN'],
      ['ACCESS_FORBIDDEN', 403, 'FORBIDDEN'],
      ['RATE_LIMITED', 429, 'RATE_LIMITED'],
      ['RATE_LIMITED_TOKEN_BUCKET', 429, 'RATE_LIMITED'],
    ])('maps %s (%i) to %s', (errorCode, status, code) => {
      expect(atlasAdapter.mapError(apiError(status, errorCode, 'd', 'r'))).toEqual({ code, vendorCode: errorCode, message: 'd' });
    });

    it('leaves the code to the status for other errors', () => {
      expect(atlasAdapter.mapError(apiError(400, 'INVALID_ROLE_FOR_ORG', `Role GROUP_OWNER invalid for organization ${ORG}.`, 'Bad Request'))).toEqual({
        vendorCode: 'INVALID_ROLE_FOR_ORG',
        message: `Role GROUP_OWNER invalid for organization ${ORG}.`,
      });
      expect(atlasAdapter.mapError(apiError(500, 'UNEXPECTED_ERROR', 'Unexpected error.', 'Internal Server Error'))).toEqual({
        vendorCode: 'UNEXPECTED_ERROR',
        message: 'Unexpected error.',
      });
      expect(atlasAdapter.mapError(apiError(400, 'toString', 'x', 'Bad Request'))).toEqual({ vendorCode: 'toString', message: 'x' });
    });

    it('reads the Digest challenge body, which has no errorCode', () => {
      expect(atlasAdapter.mapError(response(401, { detail: 'You are not authorized for this resource.', error: 401, reason: 'Unauthorized' }))).toEqual({
        message: 'You are not authorized for this resource.',
      });
    });

    it('reads nothing from non-Atlas bodies', () => {
      expect(atlasAdapter.mapError({ status: 502, headers: new Headers(), json: undefined, text: '<html>502</html>' })).toEqual({});
      expect(atlasAdapter.mapError(response(500, { error: 'boom' }))).toEqual({});
    });
  });
});

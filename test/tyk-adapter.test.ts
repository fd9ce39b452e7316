import { describe, expect, it } from 'vitest';
import { tykAdapter, type TykConfig } from '../providers/tyk/adapter.ts';
import { demoSession } from '../providers/tyk/simulator.ts';
import { GENERIC_FIELDS, INTEGER_FIELDS, tykPatchInput } from '../providers/tyk/patch-input.ts';
import type { TykSessionState } from '../providers/tyk/wire.ts';
import { PatchInputError, type ApiKeyPatch, type UpstreamResponse } from '../providers/types.ts';
import { GatewayError } from '../src/core/errors.ts';
import { toVendorFields } from '../src/graphql/vendor-inputs.ts';

const toTykSessionFields = (input: Record<string, unknown>) => toVendorFields('tyk', input);

const cfg: TykConfig = { baseUrl: 'http://tyk.internal:3000', adminSecret: 'admin-secret' };
const ID = '5e9d9544a1dcd60001d0ed20e7f75f9e03534825b7aef9df749582e5';
const current = (): TykSessionState =>
  demoSession('portal-key', ['edge-eu', 'edge'], {
    hmac_enabled: true,
    hmac_string: 'hmac-secret-value',
    jwt_data: { secret: 'jwt-secret-value' },
    basic_auth_data: { user: 'u', password: 'pw-secret', hash_type: 'bcrypt' },
  });

const build = (patch: ApiKeyPatch, session: TykSessionState = current()) => tykAdapter.buildUpdate(cfg, ID, patch, session).body as TykSessionState;

const res = (status: number, json: unknown): UpstreamResponse => ({ status, headers: new Headers(), json, text: JSON.stringify(json) });

describe('tyk adapter: config and requests', () => {
  it('authenticates with the Admin-Auth header and has no default URL', () => {
    expect(tykAdapter.auth(cfg)).toEqual({ type: 'header', name: 'Admin-Auth', value: 'admin-secret' });
    expect(tykAdapter.defaultBaseUrl).toBeUndefined();
    expect(tykAdapter.configSchema.safeParse({ adminSecret: '' }).success).toBe(false);
    expect(tykAdapter.configSchema.safeParse({ adminSecret: 's' }).success).toBe(true);
    expect(tykAdapter.secretBodyFields).toEqual(
      expect.arrayContaining([
        'hmac_string',
        'jwt_data.secret',
        'basic_auth_data.password',
        'data.hmac_string',
        'data.jwt_data.secret',
        'data.basic_auth_data.password',
      ]),
    );
  });

  it('reads the key first with GET /admin/org/keys/{id} and takes .data', () => {
    expect(tykAdapter.readBeforeWrite).toBe(true);
    expect(tykAdapter.readKey!(cfg, 'a b')).toEqual({ method: 'GET', path: '/admin/org/keys/a%20b' });
    const session = current();
    expect(tykAdapter.parseCurrent!({ api_model: {}, data: session, key_hash: 'h', key_id: ID })).toEqual(session);
    for (const body of [{ data: null }, { data: 'x' }, { data: [] }, {}, null, 'text']) expect(tykAdapter.parseCurrent!(body)).toBeUndefined();
  });

  it('PUTs the whole session back with only the patched fields changed', () => {
    const before = current();
    const snapshot = structuredClone(before);
    const req = tykAdapter.buildUpdate(cfg, ID, { name: 'renamed', enabled: false, tyk: { rate: 5, per: 1 } }, before);
    expect(req.method).toBe('PUT');
    expect(req.path).toBe(`/admin/org/keys/${ID}`);
    expect(req.body).toEqual({ ...snapshot, alias: 'renamed', is_inactive: true, rate: 5, per: 1 });
    // Nested access_rights and secrets survive untouched, and `current` is never mutated.
    const body = req.body as TykSessionState;
    expect(body.access_rights).toEqual(snapshot.access_rights);
    expect(body.hmac_string).toBe('hmac-secret-value');
    expect(body.jwt_data).toEqual({ secret: 'jwt-secret-value' });
    expect(body.basic_auth_data).toEqual({ user: 'u', password: 'pw-secret', hash_type: 'bcrypt' });
    expect(before).toEqual(snapshot);
    expect(body.access_rights).not.toBe(before.access_rights);
  });

  it('adds and removes tags idempotently, keeping order', () => {
    expect(build({ setTags: [{ key: 'edge' }, { key: 'new' }, { key: 'new' }] }).tags).toEqual(['edge-eu', 'edge', 'new']);
    expect(build({ removeTags: ['edge', 'absent'] }).tags).toEqual(['edge-eu']);
    expect(build({ setTags: [{ key: 'a' }] }, { ...current(), tags: null }).tags).toEqual(['a']);
    const once = build({ setTags: [{ key: 'x' }], removeTags: ['edge-eu'] });
    expect(build({ setTags: [{ key: 'x' }], removeTags: ['edge-eu'] }, once)).toEqual(once);
  });

  it('writes expiresAt as unix seconds', () => {
    expect(build({ expiresAt: new Date('2030-01-01T00:00:00.999Z') }).expires).toBe(1893456000);
  });

  it('replaces whole tyk fields and keeps explicit nulls', () => {
    const body = build({ tyk: { access_rights: { api2: { api_id: 'api2' } }, smoothing: null, meta_data: { a: 1 } } });
    expect(body.access_rights).toEqual({ api2: { api_id: 'api2' } });
    expect(body.smoothing).toBeNull();
    expect(body.meta_data).toEqual({ a: 1 });
    expect(body.quota_renews).toBe(1715847135);
  });

  it('refuses to build without the current session', () => {
    expect(() => tykAdapter.buildUpdate(cfg, ID, { name: 'x' })).toThrow(/current session/);
  });
});

describe('tyk adapter: validate', () => {
  it('accepts a plain patch', () => {
    expect(tykAdapter.validate({ name: 'n', setTags: [{ key: 'a', value: null }], removeTags: ['b'], tyk: { rate: 1, quota_max: 5e9 } })).toEqual([]);
  });

  // A tag both set and removed is refused for every vendor (src/core/validate.ts, test/validate.test.ts).
  it('refuses tag values and empty tags', () => {
    expect(tykAdapter.validate({ setTags: [{ key: 'env', value: 'prod' }, { key: '' }], removeTags: ['', 'env'] })).toEqual([
      { field: 'setTags[0].value', message: 'must be absent: Tyk tags have no value' },
      { field: 'setTags[1].key', message: 'must not be empty' },
      { field: 'removeTags[0]', message: 'must not be empty' },
    ]);
  });

  it('sends generic session fields to the generic patch fields', () => {
    const problems = tykAdapter.validate({ tyk: { alias: 'a', is_inactive: true, tags: [], expires: 1 } });
    expect(problems).toEqual([
      { field: 'tyk.alias', message: 'is not allowed here; use patch.name' },
      { field: 'tyk.is_inactive', message: 'is not allowed here; use patch.enabled' },
      { field: 'tyk.tags', message: 'is not allowed here; use patch.setTags / removeTags' },
      { field: 'tyk.expires', message: 'is not allowed here; use patch.expiresAt' },
    ]);
  });

  it('refuses fractional int64 fields and invalid dates', () => {
    expect(tykAdapter.validate({ tyk: { quota_max: 1.5, rate: 1.5 }, expiresAt: new Date(Number.NaN) })).toEqual([
      { field: 'expiresAt', message: 'is not a valid date' },
      { field: 'tyk.quota_max', message: 'must be a whole number' },
    ]);
  });
});

describe('tyk adapter: normalize and mapError', () => {
  const ok = { Status: 'OK', Message: 'Key updated', Meta: null };

  it('builds the key from the session written', () => {
    const sent = tykAdapter.buildUpdate(cfg, ID, { name: 'renamed', enabled: false, expiresAt: new Date('2030-01-01T00:00:00Z') }, current());
    const key = tykAdapter.normalize(ok, ID, sent);
    expect(key).toEqual({
      id: ID,
      name: 'renamed',
      enabled: false,
      roles: null,
      tags: [
        { key: 'edge-eu', value: null },
        { key: 'edge', value: null },
      ],
      expiresAt: new Date('2030-01-01T00:00:00Z'),
      updatedAt: null,
      raw: sent.body,
    });
  });

  it('reads a session without alias, tags or expiry', () => {
    const key = tykAdapter.normalize(ok, ID, { method: 'PUT', path: '/', body: { expires: -1, last_updated: 'garbage' } });
    expect(key).toMatchObject({ name: null, enabled: true, tags: [], expiresAt: null, updatedAt: null });
  });

  it('refuses an answer that is not the documented status line', () => {
    const sent = { method: 'PUT' as const, path: '/', body: current() };
    expect(tykAdapter.normalize({ Status: 'Error', Message: 'x', Meta: null }, ID, sent)).toBeUndefined();
    expect(tykAdapter.normalize({ status: 'ok' }, ID, sent)).toBeUndefined();
    expect(tykAdapter.normalize(undefined, ID, sent)).toBeUndefined();
    expect(tykAdapter.normalize(ok, ID, { method: 'PUT', path: '/' })).toBeUndefined();
  });

  it('maps Tyk 500 "Updating orgID of org key is not allowed" to BAD_USER_INPUT', () => {
    expect(tykAdapter.mapError(res(500, { Status: 'Error', Message: 'Updating orgID of org key is not allowed', Meta: null }))).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Updating orgID of org key is not allowed',
    });
  });

  it('leaves other Tyk errors to the status, with the message', () => {
    expect(tykAdapter.mapError(res(404, { Status: 'Error', Message: "Org key doesn't exist", Meta: null }))).toEqual({ message: "Org key doesn't exist" });
    expect(tykAdapter.mapError(res(401, { Status: 'Error', Message: 'Not authorised', Meta: null, ID: 'x' }))).toEqual({ message: 'Not authorised' });
    expect(tykAdapter.mapError(res(502, undefined))).toEqual({});
  });
});

describe('toTykSessionFields', () => {
  it('turns access_rights into a map keyed by api_id and drops absent fields', () => {
    const fields = toTykSessionFields({
      rate: 10,
      per: undefined,
      access_rights: [
        {
          api_id: 'api1',
          api_name: 'Orders',
          versions: ['Default'],
          allowed_urls: [{ url: '/x', methods: null }],
          limit: { rate: 5, per: 1, smoothing: null, quota_max: undefined },
          endpoints: [{ path: '/e', methods: [{ name: 'GET', limit: { rate: 1, per: 2 } }] }],
        },
        { api_id: 'api2', limit: null },
      ],
      meta_data: { owner: 'alice' },
      oauth_keys: [{ key: 'client', value: 'v' }],
      date_created: new Date('2024-05-16T08:12:15Z'),
      monitor: { trigger_limits: [80] },
    });
    expect(fields).toEqual({
      rate: 10,
      access_rights: {
        api1: {
          api_id: 'api1',
          api_name: 'Orders',
          versions: ['Default'],
          allowed_urls: [{ url: '/x', methods: null }],
          limit: { rate: 5, per: 1, smoothing: null },
          endpoints: [{ path: '/e', methods: [{ name: 'GET', limit: { rate: 1, per: 2 } }] }],
        },
        api2: { api_id: 'api2', limit: null },
      },
      meta_data: { owner: 'alice' },
      oauth_keys: { client: 'v' },
      date_created: '2024-05-16T08:12:15.000Z',
      monitor: { trigger_limits: [80] },
    });
  });

  it('keeps nulls only where Tyk allows null', () => {
    expect(
      toTykSessionFields({
        access_rights: null,
        apply_policies: null,
        meta_data: null,
        oauth_keys: null,
        smoothing: null,
        rate: null,
        hmac_string: null,
        basic_auth_data: { password: null, user: 'u' },
      }),
    ).toEqual({ access_rights: null, apply_policies: null, meta_data: null, oauth_keys: null, smoothing: null, basic_auth_data: { user: 'u' } });
  });

  it('refuses a repeated or empty api_id with BAD_USER_INPUT', () => {
    const dup = () => toTykSessionFields({ access_rights: [{ api_id: 'a' }, { api_id: 'a' }] });
    expect(dup).toThrow(GatewayError);
    expect(dup).toThrow('patch.tyk.access_rights[1].api_id "a" appears more than once');
    expect(() => toTykSessionFields({ access_rights: [{ api_id: '' }] })).toThrow('must not be empty');
  });
});

describe('tyk api selection', () => {
  const base = { baseUrl: 'http://tyk.internal:3000' };
  it('takes the API its one credential names, each with its own header', () => {
    expect(tykAdapter.auth({ ...base, apiKey: 'k' })).toEqual({ type: 'header', name: 'Authorization', value: 'k' });
    expect(tykAdapter.auth({ ...base, secret: 's' })).toEqual({ type: 'header', name: 'X-Tyk-Authorization', value: 's' });
    expect(tykAdapter.auth({ ...base, adminSecret: 'a' })).toEqual({ type: 'header', name: 'Admin-Auth', value: 'a' });
  });

  it('refuses two credentials, a credential not matching api, and hashedKeyIds off the gateway', () => {
    expect(tykAdapter.checkConfig!({ ...base, apiKey: 'k' })).toEqual([]);
    expect(tykAdapter.checkConfig!({ ...base, apiKey: 'k', secret: 's' })[0].field).toBe('');
    expect(tykAdapter.checkConfig!({ ...base, api: 'dashboard-admin', apiKey: 'k' })).toEqual([
      { field: 'apiKey', message: expect.stringContaining('does not match api: dashboard-admin, which takes adminSecret') },
    ]);
    expect(tykAdapter.checkConfig!({ ...base, apiKey: 'k', hashedKeyIds: true })).toEqual([{ field: 'hashedKeyIds', message: 'applies to api: gateway only' }]);
  });

  it('treats key ids as secrets unless the gateway addresses keys by hash', () => {
    expect(tykAdapter.idIsSecret!({ ...base, apiKey: 'k' })).toBe(true);
    expect(tykAdapter.idIsSecret!({ ...base, adminSecret: 'a' })).toBe(true);
    expect(tykAdapter.idIsSecret!({ ...base, secret: 's' })).toBe(true);
    expect(tykAdapter.idIsSecret!({ ...base, secret: 's', hashedKeyIds: true })).toBe(false);
  });

  it('sends suppress_reset=1 on dashboard and gateway PUTs unless suppressReset is false; never on the admin API', () => {
    const q = (c: TykConfig) => tykAdapter.buildUpdate(c, ID, { name: 'x' }, current()).query;
    expect(q({ ...base, apiKey: 'k' })).toEqual({ suppress_reset: '1' });
    expect(q({ ...base, apiKey: 'k', suppressReset: false })).toBeUndefined();
    expect(q({ ...base, secret: 's', hashedKeyIds: true })).toEqual({ suppress_reset: '1', hashed: 'true' });
    expect(q(cfg)).toBeUndefined();
  });
});

describe('TykSessionPatch declared in providers/tyk', () => {
  it('converts without src/: a repeated key is a PatchInputError naming the field inside the patch', () => {
    let thrown: unknown;
    try {
      tykPatchInput.toWire({
        oauth_keys: [
          { key: 'k', value: '1' },
          { key: 'k', value: '2' },
        ],
      });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(PatchInputError);
    expect((thrown as PatchInputError).problems).toEqual([{ field: 'tyk.oauth_keys[1].key', message: '"k" appears more than once' }]);
    expect(tykPatchInput.toWire({ oauth_keys: [{ key: '', value: 'v' }] })).toEqual({ oauth_keys: { '': 'v' } });
  });

  it('declares every SessionState field without a neutral patch field, and derives the whole-number checks from it', () => {
    const root = tykPatchInput.types.find((t) => t.name === tykPatchInput.root)!;
    const generic = Object.keys(GENERIC_FIELDS);
    expect(generic).toEqual(['alias', 'is_inactive', 'tags', 'expires']);
    expect(Object.keys(root.fields).filter((f) => generic.includes(f))).toEqual([]);
    expect(INTEGER_FIELDS).toEqual([
      'data_expires',
      'id_extractor_deadline',
      'last_check',
      'max_query_depth',
      'quota_max',
      'quota_remaining',
      'quota_renewal_rate',
      'quota_renews',
      'session_lifetime',
      'throttle_retry_limit',
    ]);
  });
});

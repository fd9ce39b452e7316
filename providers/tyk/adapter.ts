import { z } from 'zod';
import {
  pathSegment,
  type ApiKeyPatch,
  type FieldProblem,
  type NormalizedKey,
  type ProviderAdapter,
  type UpstreamAuth,
  type UpstreamRequest,
} from '../types.ts';
import { GENERIC_FIELDS, INTEGER_FIELDS, tykPatchInput } from './patch-input.ts';
import {
  TYK_APIS,
  TYK_GATEWAY_FORBIDDEN,
  TYK_GATEWAY_HASHED_LISTING_OFF,
  TYK_ORG_ID_CHANGE,
  TykApiError,
  TykDashboardKeyList,
  TykGatewayKeyList,
  TykGatewayModified,
  TykGatewayStatus,
  TykKeyData,
  TykKeyList,
  type TykApi,
  type TykSessionState,
} from './wire.ts';

export interface TykConfig {
  /** The Dashboard origin, e.g. http://tyk-dashboard:3000, or the Gateway's for `api: gateway` (self-hosted, so required). */
  baseUrl: string;
  /** Which Tyk API; absent: the one the credential names. */
  api?: TykApi;
  /** dashboard: a Dashboard user's API key, sent raw as `Authorization`. */
  apiKey?: string;
  /** gateway: `secret` from tyk.conf, sent as `X-Tyk-Authorization`. */
  secret?: string;
  /** dashboard-admin: `admin_secret` from tyk_analytics.conf, sent as `Admin-Auth`. */
  adminSecret?: string;
  /** dashboard and gateway: send `suppress_reset=1` so an update never resets the key's quota (default true). */
  suppressReset?: boolean;
  /** gateway only: key ids are key hashes (sends `hashed=true`). */
  hashedKeyIds?: boolean;
}

/** Each API and the one credential it takes. */
const CREDENTIAL: Record<TykApi, 'apiKey' | 'secret' | 'adminSecret'> = { dashboard: 'apiKey', gateway: 'secret', 'dashboard-admin': 'adminSecret' };

/** The API a connection speaks: `api`, or the one its credential names. */
export function tykApi(cfg: TykConfig | undefined): TykApi {
  if (cfg?.api) return cfg.api;
  if (cfg?.apiKey !== undefined) return 'dashboard';
  if (cfg?.secret !== undefined) return 'gateway';
  return 'dashboard-admin';
}

/** Where one key lives, per API. */
const KEY_PATH: Record<TykApi, string> = { dashboard: '/api/keys/', gateway: '/tyk/keys/', 'dashboard-admin': '/admin/org/keys/' };

/** `hashed=true` when the gateway addresses keys by hash. */
function hashedQuery(cfg: TykConfig): Record<string, string> {
  return tykApi(cfg) === 'gateway' && cfg.hashedKeyIds ? { hashed: 'true' } : {};
}

/** A request with its query only when it has one. */
function request(method: UpstreamRequest['method'], path: string, query: Record<string, string>, body?: unknown): UpstreamRequest {
  return { method, path, ...(Object.keys(query).length > 0 && { query }), ...(body !== undefined && { body }) };
}

const isSession = (v: unknown): v is TykSessionState => typeof v === 'object' && v !== null && !Array.isArray(v);

const SECRET_FIELDS = ['hmac_string', 'jwt_data.secret', 'basic_auth_data.password'];

export const tykAdapter: ProviderAdapter<TykConfig> = {
  kind: 'tyk',
  configSchema: z.object({
    api: z.enum(TYK_APIS).optional(),
    apiKey: z.string().min(1).optional(),
    secret: z.string().min(1).optional(),
    adminSecret: z.string().min(1).optional(),
    suppressReset: z.boolean().default(true),
    hashedKeyIds: z.boolean().default(false),
  }),
  secretConfigFields: ['adminSecret', 'apiKey', 'secret'],
  patchFields: ['name', 'enabled', 'setTags', 'removeTags', 'expiresAt', 'tyk'],
  patchInput: tykPatchInput,
  updateIdempotency: {
    idempotent: true,
    why: 'PUT <session> replaces the whole session; a retry repeats the whole read-modify-write from a fresh read',
  },
  // The session as written (raw), and KeyData bodies, which wrap it in `data`.
  secretBodyFields: [...SECRET_FIELDS, ...SECRET_FIELDS.map((p) => `data.${p}`)],

  auth(cfg): UpstreamAuth {
    const api = tykApi(cfg);
    if (api === 'dashboard') return { type: 'header', name: 'Authorization', value: cfg.apiKey ?? '' };
    if (api === 'gateway') return { type: 'header', name: 'X-Tyk-Authorization', value: cfg.secret ?? '' };
    return { type: 'header', name: 'Admin-Auth', value: cfg.adminSecret ?? '' };
  },

  checkConfig(cfg) {
    const problems: FieldProblem[] = [];
    const given = (['apiKey', 'secret', 'adminSecret'] as const).filter((f) => cfg[f] !== undefined);
    const help = 'apiKey (api: dashboard), secret (api: gateway) or adminSecret (api: dashboard-admin)';
    if (given.length !== 1) problems.push({ field: '', message: `set exactly one credential: ${help}${given.length > 1 ? `; got ${given.join(', ')}` : ''}` });
    else if (cfg.api !== undefined && given[0] !== CREDENTIAL[cfg.api])
      problems.push({ field: given[0], message: `does not match api: ${cfg.api}, which takes ${CREDENTIAL[cfg.api]} (${help})` });
    if (cfg.hashedKeyIds && tykApi(cfg) !== 'gateway') problems.push({ field: 'hashedKeyIds', message: 'applies to api: gateway only' });
    return problems;
  },

  // A key id is the live key itself, unless the gateway addresses keys by their hash.
  idIsSecret: (cfg) => !(tykApi(cfg) === 'gateway' && cfg.hashedKeyIds === true),

  validate(patch) {
    const problems: FieldProblem[] = [];
    // Duplicates and tags both set and removed are refused for every vendor (src/core/validate.ts).
    patch.setTags?.forEach((tag, i) => {
      if (tag.key.length === 0) problems.push({ field: `setTags[${i}].key`, message: 'must not be empty' });
      if (tag.value != null) problems.push({ field: `setTags[${i}].value`, message: 'must be absent: Tyk tags have no value' });
    });
    patch.removeTags?.forEach((key, i) => {
      if (key.length === 0) problems.push({ field: `removeTags[${i}]`, message: 'must not be empty' });
    });
    if (patch.expiresAt != null) {
      const expires = tykExpires(patch.expiresAt);
      if (Number.isNaN(expires)) problems.push({ field: 'expiresAt', message: 'is not a valid date' });
      // Tyk reads `expires` <= 0 as "never expires": the opposite of what was asked.
      else if (expires <= 0)
        problems.push({
          field: 'expiresAt',
          message: `must be at or after 1970-01-01T00:00:01Z (Tyk stores whole unix seconds and reads 0 or less as "never expires"); to stop a key now, set enabled: false`,
        });
    }
    if (patch.tyk != null) {
      for (const [field, use] of Object.entries(GENERIC_FIELDS))
        if (patch.tyk[field] !== undefined) problems.push({ field: `tyk.${field}`, message: `is not allowed here; use patch.${use}` });
      for (const field of INTEGER_FIELDS) {
        const v = patch.tyk[field];
        if (v != null && !Number.isSafeInteger(v)) problems.push({ field: `tyk.${field}`, message: 'must be a whole number' });
      }
    }
    return problems;
  },

  // Tyk's PUT replaces the whole session, so every update reads it first (through readKey).
  readBeforeWrite: true,
  readKey: (cfg, id) => request('GET', `${KEY_PATH[tykApi(cfg)]}${pathSegment(id)}`, hashedQuery(cfg)),

  parseKey(body, id, cfg) {
    // The gateway answers with the session itself; the Dashboard APIs wrap it in KeyData.
    if (tykApi(cfg) === 'gateway') return isSession(body) ? sessionToKey(body, id) : undefined;
    const parsed = TykKeyData.safeParse(body);
    return parsed.success ? sessionToKey(parsed.data.data as TykSessionState, parsed.data.key_id || id) : undefined;
  },

  listPage(cfg, page) {
    const api = tykApi(cfg);
    if (api === 'gateway') return { method: 'GET', path: '/tyk/keys' };
    return { method: 'GET', path: api === 'dashboard' ? '/api/apis/keys' : '/admin/org/keys', query: { p: page ?? '1' } };
  },

  parseListPage(body, page, cfg) {
    const api = tykApi(cfg);
    const p = Number(page ?? '1');
    if (api === 'gateway') {
      const parsed = TykGatewayKeyList.safeParse(body);
      return parsed.success ? { keys: parsed.data.keys.map(idOnlyKey), next: undefined } : undefined;
    }
    if (api === 'dashboard') {
      const parsed = TykDashboardKeyList.safeParse(body);
      if (!parsed.success) return undefined;
      const keys = parsed.data.data.keys.map((k) => (typeof k === 'string' ? idOnlyKey(k) : sessionToKey(k.data as TykSessionState, k.key_id ?? '')));
      return { keys, next: p < parsed.data.pages ? String(p + 1) : undefined };
    }
    const parsed = TykKeyList.safeParse(body);
    if (!parsed.success) return undefined;
    return {
      keys: parsed.data.data.keys.map((k) => sessionToKey(k.data as TykSessionState, k.key_id ?? '')),
      next: p < parsed.data.pages ? String(p + 1) : undefined,
    };
  },

  parseCurrent(body, cfg) {
    if (tykApi(cfg) === 'gateway') return isSession(body) ? body : undefined;
    const parsed = TykKeyData.safeParse(body);
    return parsed.success ? parsed.data.data : undefined;
  },

  buildUpdate(cfg, id, patch, current) {
    // Tyk's PUT replaces the whole session, so the body is the session just read with the patch applied.
    if (typeof current !== 'object' || current === null || Array.isArray(current))
      throw new Error('tyk: buildUpdate needs the current session (readBeforeWrite) to avoid wiping the key');
    const api = tykApi(cfg);
    // Without suppress_reset=1 Tyk resets the key's quota and rate window on every PUT (vendor-facts-2 §2);
    // the Admin API does not document the flag.
    const query = { ...(api !== 'dashboard-admin' && cfg.suppressReset !== false && { suppress_reset: '1' }), ...hashedQuery(cfg) };
    return request('PUT', `${KEY_PATH[api]}${pathSegment(id)}`, query, applyPatch(current as TykSessionState, patch));
  },

  normalize(body, id, sent, cfg) {
    const api = tykApi(cfg);
    // The Dashboard API answers with the key as stored (KeyData).
    if (api === 'dashboard') {
      const data = TykKeyData.safeParse(body);
      if (data.success) return sessionToKey(data.data.data as TykSessionState, data.data.key_id || id);
    }
    // The Admin API answers a status line and the gateway `{key, status, action}`: the key is the session we wrote.
    const ok = api === 'gateway' ? TykGatewayModified.safeParse(body).success : TykApiError.safeParse(body).data?.Status === 'OK';
    if (!ok || !isSession(sent.body)) return undefined;
    // The session we wrote carries the previous `last_updated`; Tyk sets a new one we never see.
    return { ...sessionToKey(sent.body, id), updatedAt: null };
  },

  mapError(res) {
    const gateway = TykGatewayStatus.safeParse(res.json);
    if (gateway.success) {
      const { message } = gateway.data;
      // A wrong or missing secret is a 403 with this message: keygate's credentials were refused.
      if (message === TYK_GATEWAY_FORBIDDEN) return { code: 'UNAUTHENTICATED', message };
      if (message === TYK_GATEWAY_HASHED_LISTING_OFF)
        return { code: 'UNSUPPORTED_OPERATION', message: `${message}: Tyk hashes keys and lists them only with enable_hashed_keys_listing on` };
      return { message };
    }
    const parsed = TykApiError.safeParse(res.json);
    if (!parsed.success) return {};
    const { Message } = parsed.data;
    // Tyk answers an org_id change with 500, but it is the caller's input that is wrong.
    if (Message === TYK_ORG_ID_CHANGE) return { code: 'BAD_USER_INPUT', message: Message };
    return { message: Message };
  },
};

/** A deep copy of `current` with the patch applied; every field the patch does not name is kept. */
export function applyPatch(current: TykSessionState, patch: ApiKeyPatch): TykSessionState {
  const next = structuredClone(current);
  const session = next as Record<string, unknown>;
  if (patch.tyk != null) for (const [field, value] of Object.entries(patch.tyk)) if (value !== undefined) session[field] = structuredClone(value);
  if (patch.name != null) next.alias = patch.name;
  if (patch.enabled != null) next.is_inactive = !patch.enabled;
  if (patch.setTags != null || patch.removeTags != null) {
    const tags = Array.isArray(next.tags) ? [...next.tags] : [];
    for (const { key } of patch.setTags ?? []) if (!tags.includes(key)) tags.push(key);
    const removed = new Set(patch.removeTags ?? []);
    next.tags = tags.filter((t) => !removed.has(t));
  }
  if (patch.expiresAt != null) next.expires = tykExpires(patch.expiresAt);
  return next;
}

/** Tyk's `expires`: whole unix seconds, rounded down so the key never outlives the time asked. */
export function tykExpires(at: Date): number {
  return Math.floor(at.getTime() / 1000);
}

/** A key a list names by id only (Dashboard API, gateway): its fields are read with `apiKey`. */
function idOnlyKey(id: string): NormalizedKey {
  return { id, name: null, enabled: null, roles: null, tags: null, expiresAt: null, updatedAt: null, raw: { key_id: id } };
}

/** A Tyk session as a key: alias is the name, is_inactive the inverse of enabled, tags have no value. */
function sessionToKey(s: TykSessionState, id: string): NormalizedKey {
  const updated = Number(s.last_updated);
  return {
    id,
    name: s.alias ?? null,
    enabled: !s.is_inactive,
    roles: null,
    tags: Array.isArray(s.tags) ? s.tags.map((t) => ({ key: t, value: null })) : [],
    expiresAt: typeof s.expires === 'number' && s.expires > 0 ? new Date(s.expires * 1000) : null,
    updatedAt: Number.isFinite(updated) && updated > 0 ? new Date(updated * 1000) : null,
    raw: s,
  };
}

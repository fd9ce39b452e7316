import { z } from 'zod';
import { pathSegment, type ApiKeyPatch, type FieldProblem, type NormalizedKey, type ProviderAdapter } from '../types.ts';
import { TYK_ORG_ID_CHANGE, TykApiError, TykKeyData, TykKeyList, type TykSessionState } from './wire.ts';

export interface TykConfig {
  /** The Dashboard origin, e.g. http://tyk-dashboard:3000 (self-hosted, so required). */
  baseUrl: string;
  /** `admin_secret` from tyk_analytics.conf, sent as `Admin-Auth`. */
  adminSecret: string;
}

/** SessionState fields that have a vendor-neutral patch field; `tyk` must not set them. */
const GENERIC_FIELDS: Record<string, string> = {
  alias: 'name',
  is_inactive: 'enabled',
  tags: 'setTags / removeTags',
  expires: 'expiresAt',
};

/** Top-level SessionState fields the seed types as integers (int64 or int). */
const INTEGER_FIELDS = [
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
];

const SECRET_FIELDS = ['hmac_string', 'jwt_data.secret', 'basic_auth_data.password'];

export const tykAdapter: ProviderAdapter<TykConfig> = {
  kind: 'tyk',
  configSchema: z.object({ adminSecret: z.string().min(1) }),
  secretConfigFields: ['adminSecret'],
  patchFields: ['name', 'enabled', 'setTags', 'removeTags', 'expiresAt', 'tyk'],
  // The session as written (raw), and KeyData bodies, which wrap it in `data`.
  secretBodyFields: [...SECRET_FIELDS, ...SECRET_FIELDS.map((p) => `data.${p}`)],

  auth: (cfg) => ({ type: 'header', name: 'Admin-Auth', value: cfg.adminSecret }),

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
  readKey: (_cfg, id) => ({ method: 'GET', path: `/admin/org/keys/${pathSegment(id)}` }),

  parseKey(body, id) {
    const parsed = TykKeyData.safeParse(body);
    return parsed.success ? sessionToKey(parsed.data.data as TykSessionState, parsed.data.key_id || id) : undefined;
  },

  listPage: (_cfg, page) => ({ method: 'GET', path: '/admin/org/keys', query: { p: page ?? '1' } }),

  parseListPage(body, page) {
    const parsed = TykKeyList.safeParse(body);
    if (!parsed.success) return undefined;
    const p = Number(page ?? '1');
    return {
      keys: parsed.data.data.keys.map((k) => sessionToKey(k.data as TykSessionState, k.key_id ?? '')),
      next: p < parsed.data.pages ? String(p + 1) : undefined,
    };
  },

  parseCurrent(body) {
    const parsed = TykKeyData.safeParse(body);
    return parsed.success ? parsed.data.data : undefined;
  },

  buildUpdate(_cfg, id, patch, current) {
    // Tyk's PUT replaces the whole session, so the body is the session just read with the patch applied.
    if (typeof current !== 'object' || current === null || Array.isArray(current))
      throw new Error('tyk: buildUpdate needs the current session (readBeforeWrite) to avoid wiping the key');
    return { method: 'PUT', path: `/admin/org/keys/${pathSegment(id)}`, body: applyPatch(current as TykSessionState, patch) };
  },

  normalize(body, id, sent) {
    // Tyk answers a PUT with a status line only, so the key is the session we wrote.
    const parsed = TykApiError.safeParse(body);
    if (!parsed.success || parsed.data.Status !== 'OK') return undefined;
    const session = sent.body;
    if (typeof session !== 'object' || session === null || Array.isArray(session)) return undefined;
    // The session we wrote carries the previous `last_updated`; Tyk sets a new one we never see.
    return { ...sessionToKey(session as TykSessionState, id), updatedAt: null };
  },

  mapError(res) {
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

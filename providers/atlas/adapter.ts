import { z } from 'zod';
import { pathSegment, type ErrorCode, type FieldProblem, type NormalizedKey, type ProviderAdapter } from '../types.ts';
import {
  ATLAS_BASE_URL,
  ATLAS_DESC_MAX,
  ATLAS_ORG_ROLES,
  ATLAS_PAGE_SIZE,
  AtlasApiKeyResponse,
  AtlasErrorBody,
  AtlasListResponse,
  type AtlasUpdateBody,
} from './wire.ts';

export interface AtlasConfig {
  baseUrl: string;
  orgId: string;
  /** The Digest username; identifies the key but is not a secret. */
  publicKey: string;
  /** The Digest password. */
  privateKey: string;
}

const ORG_ROLES: ReadonlySet<string> = new Set(ATLAS_ORG_ROLES);

// Atlas answers some of these with an unexpected status (API_KEY_NOT_FOUND is a 400, NOT_ORG_OWNER
// a 401), so the errorCode decides; anything not listed falls back to the status.
const CODE_BY_VENDOR_CODE: ReadonlyMap<string, ErrorCode> = new Map(
  Object.entries({
    API_KEY_NOT_FOUND: 'NOT_FOUND',
    RESOURCE_NOT_FOUND: 'NOT_FOUND',
    ORG_NOT_FOUND: 'NOT_FOUND',
    INVALID_ORG_ID: 'NOT_FOUND',
    NOT_ORG_OWNER: 'FORBIDDEN',
    NOT_API_KEY_ADMIN: 'FORBIDDEN',
    USER_CANNOT_ACCESS_ORG: 'FORBIDDEN',
    USER_UNAUTHORIZED: 'FORBIDDEN',
    IP_ADDRESS_NOT_ON_WHITELIST: 'FORBIDDEN',
    ORG_REQUIRES_WHITELIST: 'FORBIDDEN',
    CANNOT_DEMOTE_LAST_ORG_OWNER: 'FORBIDDEN',
    ACCESS_FORBIDDEN: 'FORBIDDEN',
    RATE_LIMITED: 'RATE_LIMITED',
    RATE_LIMITED_TOKEN_BUCKET: 'RATE_LIMITED',
  } satisfies Record<string, ErrorCode>),
);

export const atlasAdapter: ProviderAdapter<AtlasConfig> = {
  kind: 'atlas',
  defaultBaseUrl: ATLAS_BASE_URL,
  configSchema: z.object({ orgId: z.string().min(1), publicKey: z.string().min(1), privateKey: z.string().min(1) }),
  secretConfigFields: ['privateKey'],
  patchFields: ['name', 'roles'],
  // Atlas Admin API v2 org API-key endpoints: a bucket of 500, refilled 250 per 60 s (vendor-facts-2).
  defaultRateLimit: { requests: 250, perSeconds: 60, burst: 500 },
  updateIdempotency: { idempotent: true, why: 'PATCH {desc?, roles?} replaces the description and the whole role set' },
  secretBodyFields: ['privateKey'],

  auth: (cfg) => ({ type: 'digest', username: cfg.publicKey, password: cfg.privateKey }),

  validate(patch) {
    const problems: FieldProblem[] = [];
    if (patch.name != null && (patch.name.length === 0 || patch.name.length > ATLAS_DESC_MAX))
      problems.push({ field: 'name', message: `must be 1..${ATLAS_DESC_MAX} characters (Atlas's limit for desc)` });
    if (patch.roles != null) {
      if (patch.roles.length === 0) problems.push({ field: 'roles', message: 'must hold at least one role (Atlas API keys need a role)' });
      const seen = new Set<string>();
      patch.roles.forEach((role, i) => {
        if (!ORG_ROLES.has(role))
          problems.push({ field: `roles[${i}]`, message: `"${role}" is not an Atlas organization role; allowed: ${ATLAS_ORG_ROLES.join(', ')}` });
        if (seen.has(role)) problems.push({ field: `roles[${i}]`, message: `role "${role}" appears more than once` });
        seen.add(role);
      });
    }
    return problems;
  },

  buildUpdate(cfg, id, patch) {
    const body: AtlasUpdateBody = {};
    if (patch.name != null) body.desc = patch.name;
    if (patch.roles != null) body.roles = [...patch.roles];
    return { method: 'PATCH', path: `/orgs/${pathSegment(cfg.orgId)}/apiKeys/${pathSegment(id)}`, body };
  },

  normalize: (body, id) => toKey(body, id),

  readKey: (cfg, id) => ({ method: 'GET', path: `/orgs/${pathSegment(cfg.orgId)}/apiKeys/${pathSegment(id)}` }),
  parseKey: (body, id) => toKey(body, id),

  listPage: (cfg, page) => ({
    method: 'GET',
    path: `/orgs/${pathSegment(cfg.orgId)}/apiKeys`,
    query: { pageNum: page ?? '1', itemsPerPage: String(ATLAS_PAGE_SIZE) },
  }),

  parseListPage(body, page) {
    const parsed = AtlasListResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const keys = parsed.data.results.map((r) => toKey(r, ''));
    if (keys.some((k) => k === undefined)) return undefined;
    const pageNum = Number(page ?? '1');
    return {
      keys: keys as NormalizedKey[],
      next: pageNum * ATLAS_PAGE_SIZE < parsed.data.totalCount ? String(pageNum + 1) : undefined,
    };
  },

  mapError(res) {
    const parsed = AtlasErrorBody.safeParse(res.json);
    if (!parsed.success) return {};
    const { errorCode, detail } = parsed.data;
    const code = errorCode === undefined ? undefined : CODE_BY_VENDOR_CODE.get(errorCode);
    return { ...(code && { code }), ...(errorCode && { vendorCode: errorCode }), ...(detail && { message: detail }) };
  },
};

/** The org API-key body (update, read and list answers share it) as a key. */
function toKey(body: unknown, id: string): NormalizedKey | undefined {
  const parsed = AtlasApiKeyResponse.safeParse(body);
  if (!parsed.success) return undefined;
  return {
    id: parsed.data.id || id,
    name: parsed.data.desc,
    enabled: null,
    roles: parsed.data.roles.map((r) => r.roleName),
    tags: null,
    expiresAt: null,
    updatedAt: null,
    raw: parsed.data,
  };
}

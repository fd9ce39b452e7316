import { z } from 'zod';
import { pathSegment, type ErrorCode, type FieldProblem, type NormalizedKey, type ProviderAdapter } from '../types.ts';
import {
  ATLAS_API_PATHS,
  ATLAS_BASE_URL,
  ATLAS_TOKEN_PATH,
  ATLAS_V2_MEDIA_TYPE,
  type AtlasApiVersion,
  ATLAS_DESC_MAX,
  ATLAS_ORG_ROLES,
  ATLAS_PAGE_SIZE,
  AtlasApiKeyResponse,
  AtlasErrorBody,
  AtlasListResponse,
  type AtlasUpdateBody,
} from './wire.ts';

/** Exactly one credential set: a service account (recommended) or a programmatic API key. */
export interface AtlasConfig {
  /** Ends in /api/atlas/v2 (the default) or /api/atlas/v1.0: the API version spoken. */
  baseUrl: string;
  orgId: string;
  /** Service account: the OAuth client id (not a secret). */
  clientId?: string;
  /** Service account: the OAuth client secret. */
  clientSecret?: string;
  /** API key: the Digest username; identifies the key but is not a secret. */
  publicKey?: string;
  /** API key: the Digest password. */
  privateKey?: string;
}

/** The API version `baseUrl`'s path names; undefined when it names neither. */
export function atlasVersion(baseUrl: string): AtlasApiVersion | undefined {
  let path: string;
  try {
    path = new URL(baseUrl).pathname.replace(/\/+$/, '');
  } catch {
    return undefined;
  }
  return (Object.keys(ATLAS_API_PATHS) as AtlasApiVersion[]).find((v) => path.endsWith(ATLAS_API_PATHS[v]));
}

/** Headers the version needs: v2 names the resource version in Accept, and in Content-Type when there is a body. */
function versionHeaders(cfg: AtlasConfig, withBody: boolean): Record<string, string> | undefined {
  if (atlasVersion(cfg.baseUrl) !== 'v2') return undefined;
  return { accept: ATLAS_V2_MEDIA_TYPE, ...(withBody && { 'content-type': ATLAS_V2_MEDIA_TYPE }) };
}

/** Atlas refuses a resource version it does not serve (400/406 INVALID_VERSION_DATE, 410 VERSION_GONE). */
const VERSION_REFUSALS: ReadonlySet<string> = new Set(['INVALID_VERSION_DATE', 'VERSION_GONE']);

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
  configSchema: z.object({
    orgId: z.string().min(1),
    clientId: z.string().min(1).optional(),
    clientSecret: z.string().min(1).optional(),
    publicKey: z.string().min(1).optional(),
    privateKey: z.string().min(1).optional(),
  }),
  secretConfigFields: ['privateKey', 'clientSecret'],
  patchFields: ['name', 'roles'],
  // Atlas Admin API v2 org API-key endpoints: a bucket of 500, refilled 250 per 60 s (vendor-facts-2).
  defaultRateLimit: { requests: 250, perSeconds: 60, burst: 500 },
  // v2 answers carry RateLimit-Limit and RateLimit-Remaining, no reset (vendor-facts §3); v1.0 sends none.
  rateLimitHeaders: { format: 'fields', remaining: 'RateLimit-Remaining' },
  updateIdempotency: { idempotent: true, why: 'PATCH {desc?, roles?} replaces the description and the whole role set' },
  secretBodyFields: ['privateKey'],

  auth: (cfg) =>
    cfg.clientId !== undefined
      ? {
          type: 'oauth-client-credentials',
          tokenUrl: `${new URL(cfg.baseUrl).origin}${ATLAS_TOKEN_PATH}`,
          clientId: cfg.clientId,
          clientSecret: cfg.clientSecret ?? '',
        }
      : { type: 'digest', username: cfg.publicKey ?? '', password: cfg.privateKey ?? '' },

  checkConfig(cfg) {
    const problems: FieldProblem[] = [];
    if (atlasVersion(cfg.baseUrl) === undefined)
      problems.push({
        field: 'baseUrl',
        message: `must end in ${ATLAS_API_PATHS.v2} (the default) or ${ATLAS_API_PATHS['v1.0']}: the path names the Atlas API version`,
      });
    const serviceAccount = cfg.clientId !== undefined || cfg.clientSecret !== undefined;
    const apiKey = cfg.publicKey !== undefined || cfg.privateKey !== undefined;
    if (serviceAccount && apiKey)
      problems.push({
        field: '',
        message: 'set exactly one credential set: clientId + clientSecret (a service account) or publicKey + privateKey (an API key), not both',
      });
    else if (!serviceAccount && !apiKey)
      problems.push({
        field: '',
        message: 'needs a credential set: clientId + clientSecret (a service account, recommended) or publicKey + privateKey (an API key)',
      });
    const pairs: [keyof AtlasConfig, keyof AtlasConfig][] = [
      ['clientId', 'clientSecret'],
      ['clientSecret', 'clientId'],
      ['publicKey', 'privateKey'],
      ['privateKey', 'publicKey'],
    ];
    for (const [has, needs] of pairs) if (cfg[has] !== undefined && cfg[needs] === undefined) problems.push({ field: needs, message: `required with ${has}` });
    return problems;
  },

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
    const headers = versionHeaders(cfg, true);
    return { method: 'PATCH', path: `/orgs/${pathSegment(cfg.orgId)}/apiKeys/${pathSegment(id)}`, body, ...(headers && { headers }) };
  },

  normalize: (body, id, _sent, cfg) => toKey(body, id, cfg),

  readKey(cfg, id) {
    const headers = versionHeaders(cfg, false);
    return { method: 'GET', path: `/orgs/${pathSegment(cfg.orgId)}/apiKeys/${pathSegment(id)}`, ...(headers && { headers }) };
  },
  parseKey: (body, id, cfg) => toKey(body, id, cfg),

  listPage(cfg, page) {
    const headers = versionHeaders(cfg, false);
    return {
      method: 'GET',
      path: `/orgs/${pathSegment(cfg.orgId)}/apiKeys`,
      query: { pageNum: page ?? '1', itemsPerPage: String(ATLAS_PAGE_SIZE) },
      ...(headers && { headers }),
    };
  },

  parseListPage(body, page, cfg) {
    const parsed = AtlasListResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const keys = parsed.data.results.map((r) => toKey(r, '', cfg));
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
    const { errorCode, detail, badRequestDetail } = parsed.data;
    const fields = badRequestDetail?.fields?.map(({ field, description }) => ({ field, description }));
    if ((errorCode !== undefined && VERSION_REFUSALS.has(errorCode)) || res.status === 406)
      return {
        code: 'UPSTREAM_ERROR',
        ...(errorCode && { vendorCode: errorCode }),
        message: `the Atlas API version is not accepted (keygate sends ${ATLAS_V2_MEDIA_TYPE})${detail ? `: ${detail}` : ''}`,
      };
    const code = errorCode === undefined ? undefined : CODE_BY_VENDOR_CODE.get(errorCode);
    return {
      ...(code && { code }),
      ...(errorCode && { vendorCode: errorCode }),
      ...(detail && { message: detail }),
      ...(fields && fields.length > 0 && { fields }),
    };
  },
};

/**
 * The org API-key body (update, read and list answers share it) as a key. Atlas returns project
 * roles too; `roles` keeps the organization's own.
 */
function toKey(body: unknown, id: string, cfg?: AtlasConfig): NormalizedKey | undefined {
  const parsed = AtlasApiKeyResponse.safeParse(body);
  if (!parsed.success) return undefined;
  const own = (r: { orgId?: string; groupId?: string }) => (cfg ? r.orgId === cfg.orgId : r.groupId === undefined);
  return {
    id: parsed.data.id || id,
    name: parsed.data.desc,
    enabled: null,
    roles: parsed.data.roles.filter(own).map((r) => r.roleName),
    tags: null,
    expiresAt: null,
    updatedAt: null,
    raw: parsed.data,
  };
}

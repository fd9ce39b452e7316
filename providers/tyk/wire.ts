/**
 * Tyk Dashboard Admin API 5.13 — GET and PUT /admin/org/keys/{keyId}, header `Admin-Auth`.
 * Contract: ../shared/seeds/003_4851f2c134fdd330.txt (https://tyk.io/docs, swagger/5.13/dashboard-admin-swagger.yml, updateOrgKey)
 * Facts beyond the seed: ../shared/design/vendor-facts.md §4 (KeyData, full-replace PUT, error bodies).
 *
 * Tyk is self-hosted, so there is no default base URL: the Dashboard's origin is configured per connection.
 */
import { z } from 'zod';

export const TYK_KEY_UPDATED = 'Key updated';
export const TYK_NOT_AUTHORISED = 'Not authorised';
export const TYK_KEY_NOT_FOUND = "Org key doesn't exist";
export const TYK_ORG_ID_CHANGE = 'Updating orgID of org key is not allowed';

/** seed: RateLimitSmoothing (nullable). */
export interface TykRateLimitSmoothing {
  enabled?: boolean;
  /** int64 */
  threshold?: number;
  trigger?: number;
  /** int64 */
  step?: number;
  /** int64 */
  delay?: number;
}

/** seed: APILimit (nullable) — per-API limits inside an AccessDefinition. */
export interface TykAPILimit {
  rate?: number;
  per?: number;
  throttle_interval?: number;
  throttle_retry_limit?: number;
  max_query_depth?: number;
  /** int64 */
  quota_max?: number;
  /** int64 */
  quota_remaining?: number;
  /** int64 */
  quota_renewal_rate?: number;
  /** int64, unix seconds */
  quota_renews?: number;
  set_by_policy?: boolean;
  smoothing?: TykRateLimitSmoothing | null;
}

/** seed: GraphqlType. */
export interface TykGraphqlType {
  name?: string;
  fields?: string[] | null;
}

/** seed: AccessSpec — an allowed URL and its methods. */
export interface TykAccessSpec {
  url?: string;
  methods?: string[] | null;
}

/** seed: SessionEndpointRateLimit (both int64). */
export interface TykSessionEndpointRateLimit {
  rate?: number;
  per?: number;
}

/** seed: SessionEndpointMethod. */
export interface TykSessionEndpointMethod {
  name?: string;
  limit?: TykSessionEndpointRateLimit;
}

/** seed: SessionEndpoint. */
export interface TykSessionEndpoint {
  path?: string;
  methods?: TykSessionEndpointMethod[];
}

/** seed: FieldLimits. */
export interface TykFieldLimits {
  max_query_depth?: number;
}

/** seed: FieldAccessDefinition. */
export interface TykFieldAccessDefinition {
  type_name?: string;
  field_name?: string;
  limits?: TykFieldLimits;
}

/** seed: AccessDefinition — one entry of `access_rights`, keyed by API id. */
export interface TykAccessDefinition {
  api_id?: string;
  api_name?: string;
  versions?: string[] | null;
  allowed_urls?: TykAccessSpec[] | null;
  restricted_types?: TykGraphqlType[] | null;
  allowed_types?: TykGraphqlType[] | null;
  disable_introspection?: boolean;
  field_access_rights?: TykFieldAccessDefinition[] | null;
  limit?: TykAPILimit | null;
  allowance_scope?: string;
  endpoints?: TykSessionEndpoint[];
}

/** seed: SessionState.monitor. */
export interface TykMonitor {
  trigger_limits?: number[] | null;
}

/** seed: SessionState.basic_auth_data — `password` is a secret. */
export interface TykBasicAuthData {
  user?: string;
  password?: string;
  hash_type?: string;
}

/** seed: SessionState.jwt_data — `secret` is a secret. */
export interface TykJwtData {
  secret?: string;
}

/** seed: SessionState — the whole key. The PUT replaces it entirely (vendor-facts §4). */
export interface TykSessionState {
  access_rights?: Record<string, TykAccessDefinition> | null;
  alias?: string;
  allowance?: number;
  apply_policies?: string[] | null;
  apply_policy_id?: string;
  basic_auth_data?: TykBasicAuthData;
  certificate?: string;
  /** int64 */
  data_expires?: number;
  /** date-time */
  date_created?: string;
  enable_detailed_recording?: boolean;
  /** int64, unix seconds; 0 or less = never */
  expires?: number;
  hmac_enabled?: boolean;
  /** Secret. */
  hmac_string?: string;
  /** int64 */
  id_extractor_deadline?: number;
  is_inactive?: boolean;
  jwt_data?: TykJwtData;
  key_id?: string;
  /** int64 */
  last_check?: number;
  /** Unix seconds as a string. */
  last_updated?: string;
  max_query_depth?: number;
  meta_data?: unknown;
  monitor?: TykMonitor;
  oauth_client_id?: string;
  oauth_keys?: Record<string, string> | null;
  org_id?: string;
  per?: number;
  /** int64; -1 = unlimited */
  quota_max?: number;
  /** int64 */
  quota_remaining?: number;
  /** int64 */
  quota_renewal_rate?: number;
  /** int64, unix seconds */
  quota_renews?: number;
  rate?: number;
  /** int64 */
  session_lifetime?: number;
  smoothing?: TykRateLimitSmoothing | null;
  tags?: string[] | null;
  throttle_interval?: number;
  throttle_retry_limit?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** GET /admin/org/keys/{keyId} answer (vendor-facts §4): the session is `.data`. */
export const TykKeyData = z.object({
  api_model: z.unknown().optional(),
  data: z.custom<TykSessionState>(isObject, { message: 'data must be an object' }),
  key_hash: z.string().optional(),
  key_id: z.string().optional(),
});
export type TykKeyData = z.infer<typeof TykKeyData>;

/** seed: ApiError — every answer of the Dashboard Admin API, success included. */
export const TykApiError = z.object({
  Status: z.string(),
  Message: z.string(),
  Meta: z.unknown(),
  ID: z.string().optional(),
});
export type TykApiError = z.infer<typeof TykApiError>;

/** GET /admin/org/keys?p=N answer (vendor-facts §4). */
/** GET /admin/org/keys answer: one page of KeyData (`?p=N`). */
export const TykKeyList = z.object({ data: z.object({ keys: z.array(TykKeyData) }), pages: z.number().int().nonnegative() });
export type TykKeyList = z.infer<typeof TykKeyList>;

/**
 * The Dashboard API (`/api/keys/{keyId}`, header `Authorization: <user API key>`) and the Gateway
 * API (`/tyk/keys/{keyID}`, header `X-Tyk-Authorization: <tyk.conf secret>`), per
 * vendor-facts-2.md §2 (tyk-docs swagger/dashboard-swagger.yml and gateway-swagger.yml; tyk
 * gateway/api.go). Both PUTs replace the whole session; `suppress_reset=1` keeps the quota.
 */
export const TYK_APIS = ['dashboard', 'gateway', 'dashboard-admin'] as const;
export type TykApi = (typeof TYK_APIS)[number];

export const TYK_DASHBOARD_KEY_NOT_FOUND = 'Could not retrieve key detail.';
export const TYK_GATEWAY_KEY_NOT_FOUND = 'Key not found';
/** The gateway's 404 for a PUT of an unknown key (not the GET's wording). */
export const TYK_GATEWAY_PUT_NOT_FOUND = 'Key is not found';
export const TYK_GATEWAY_FORBIDDEN = 'Attempted administrative access with invalid or missing key!';
export const TYK_GATEWAY_HASHED_LISTING_OFF = 'Hashed key listing is disabled in config (enable_hashed_keys_listing)';

/** The gateway's every non-session answer (`apiStatusMessage`), lower-case. */
export const TykGatewayStatus = z.object({ status: z.string(), message: z.string() });

/** The gateway's answer to a PUT: a status line, not the key. */
export const TykGatewayModified = z.object({ key: z.string(), status: z.literal('ok'), action: z.string() });

/** GET /tyk/keys: every key id (or hash), one page. */
export const TykGatewayKeyList = z.object({ keys: z.array(z.string()) });

/** GET /api/apis/keys?p=N: key ids, paged. */
export const TykDashboardKeyList = z.object({ data: z.object({ keys: z.array(z.union([z.string(), TykKeyData])) }), pages: z.number().int() });

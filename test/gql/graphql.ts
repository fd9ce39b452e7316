/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** Algolia key attributes; each one given replaces that attribute. */
export type AlgoliaPatch = {
  /** Algolia `indexes` (empty: all). */
  indexes?: Array<string> | null | undefined;
  /** Algolia `maxHitsPerQuery` (0: no limit). */
  maxHitsPerQuery?: number | null | undefined;
  /** Algolia `maxQueriesPerIPPerHour` (0: no limit). */
  maxQueriesPerIPPerHour?: number | null | undefined;
  /** Algolia `queryParameters` (URL-encoded). */
  queryParameters?: string | null | undefined;
  /** Algolia `referers`. */
  referers?: Array<string> | null | undefined;
  /** Algolia `validity`: seconds until the key expires (0: never). */
  validity?: number | null | undefined;
};

/** What to change. Absent or null fields are left alone; `Provider.patchFields` lists what each provider supports. */
export type ApiKeyPatch = {
  /** Algolia key attributes; each one given replaces that attribute. */
  algolia?: AlgoliaPatch | null | undefined;
  /** Cloudflare token fields; each one given replaces that field. */
  cloudflare?: CloudflarePatch | null | undefined;
  /** Confluent Cloud API key fields. */
  confluent?: ConfluentPatch | null | undefined;
  /** tyk is_inactive = !enabled · plumaa enabled */
  enabled?: boolean | null | undefined;
  /** tyk expires (unix seconds) */
  expiresAt?: string | null | undefined;
  /** basic label · atlas desc · tyk alias · plumaa name */
  name?: string | null | undefined;
  /** mesa tags[key] = null · tyk tags -= key */
  removeTags?: Array<string> | null | undefined;
  /** basic roles (comma-joined) · atlas roles (replaces the set) */
  roles?: Array<string> | null | undefined;
  /** mesa tags[key] = value (value required) · tyk tags += key (no value allowed) */
  setTags?: Array<TagInput> | null | undefined;
  /** Any other Tyk SessionState field; each one given replaces that field. */
  tyk?: TykSessionPatch | null | undefined;
};

/** Cloudflare token fields; each one given replaces that field. */
export type CloudflarePatch = {
  /** Cloudflare `condition`, e.g. {request_ip: {in: ["192.0.2.0/24"]}}. */
  condition?: any;
  /** Cloudflare `not_before`. */
  notBefore?: string | null | undefined;
  /** Cloudflare `policies`: [{effect, permission_groups, resources}] (replaces the list). */
  policies?: any;
};

/** Confluent Cloud API key fields. */
export type ConfluentPatch = {
  /** Confluent `spec.description`. */
  description?: string | null | undefined;
};

/** The vendor a provider connection talks to. */
export type ProviderKind =
  | 'ALGOLIA'
  | 'ATLAS'
  | 'BASIC'
  | 'CLOUDFLARE'
  | 'CONFLUENT'
  | 'DATADOG'
  | 'HTTP'
  | 'MESA'
  | 'PLUMAA'
  | 'SENDGRID'
  | 'TYK';

export type TagInput = {
  key: string;
  /** Required for Mesa; not allowed for Tyk, whose tags have no value. */
  value?: string | null | undefined;
};

/** One entry of Tyk `access_rights` (an AccessDefinition), keyed by `api_id`. */
export type TykAccessRightInput = {
  /** Scope the allowance is counted in. */
  allowance_scope?: string | null | undefined;
  /** GraphQL types the key may use; null clears them. */
  allowed_types?: Array<TykGraphqlTypeInput> | null | undefined;
  /** URL allow-list; null clears it. */
  allowed_urls?: Array<TykAccessSpecInput> | null | undefined;
  /** The API id: the key of this entry in the access_rights map. */
  api_id: string;
  /** The API name. */
  api_name?: string | null | undefined;
  /** Blocks GraphQL introspection. */
  disable_introspection?: boolean | null | undefined;
  /** Per-endpoint rate limits. */
  endpoints?: Array<TykSessionEndpointInput> | null | undefined;
  /** GraphQL field limits; null clears them. */
  field_access_rights?: Array<TykFieldAccessDefinitionInput> | null | undefined;
  /** Per-API rate and quota; null clears it. */
  limit?: TykApiLimitInput | null | undefined;
  /** GraphQL types the key may not use; null clears them. */
  restricted_types?: Array<TykGraphqlTypeInput> | null | undefined;
  /** API versions the key may use; null clears them. */
  versions?: Array<string> | null | undefined;
};

/** Tyk AccessSpec: an allowed URL and its methods. */
export type TykAccessSpecInput = {
  /** HTTP methods allowed on it; null clears them. */
  methods?: Array<string> | null | undefined;
  /** URL path (regex) the key may call. */
  url?: string | null | undefined;
};

/** Tyk APILimit: rate and quota for one API of the key. */
export type TykApiLimitInput = {
  /** Maximum GraphQL query depth. */
  max_query_depth?: number | null | undefined;
  /** Rate-limit window in seconds. */
  per?: number | null | undefined;
  /** Requests per quota period (-1 = unlimited); int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_max?: number | null | undefined;
  /** Requests left in the quota period; int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_remaining?: number | null | undefined;
  /** Quota period in seconds; int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_renewal_rate?: number | null | undefined;
  /** Unix seconds when the quota renews; int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_renews?: number | null | undefined;
  /** Requests allowed per `per` seconds. */
  rate?: number | null | undefined;
  /** Whether a policy set this limit. */
  set_by_policy?: boolean | null | undefined;
  /** Rate-limit smoothing; null clears it. */
  smoothing?: TykRateLimitSmoothingInput | null | undefined;
  /** Seconds between retries when throttled. */
  throttle_interval?: number | null | undefined;
  /** Retries when throttled. */
  throttle_retry_limit?: number | null | undefined;
};

/** Tyk SessionState.basic_auth_data. */
export type TykBasicAuthDataInput = {
  /** How the password is hashed. */
  hash_type?: string | null | undefined;
  /** Basic-auth password (secret; redacted in answers). */
  password?: string | null | undefined;
  /** Basic-auth user name. */
  user?: string | null | undefined;
};

/** Tyk FieldAccessDefinition: limits on one GraphQL field. */
export type TykFieldAccessDefinitionInput = {
  /** GraphQL field name. */
  field_name?: string | null | undefined;
  /** Limits on the field. */
  limits?: TykFieldLimitsInput | null | undefined;
  /** GraphQL type name. */
  type_name?: string | null | undefined;
};

/** Tyk FieldLimits. */
export type TykFieldLimitsInput = {
  /** Maximum query depth below this field. */
  max_query_depth?: number | null | undefined;
};

/** Tyk GraphqlType: a GraphQL type and some of its fields. */
export type TykGraphqlTypeInput = {
  /** Field names of the type; null clears them. */
  fields?: Array<string> | null | undefined;
  /** GraphQL type name. */
  name?: string | null | undefined;
};

/** Tyk SessionState.jwt_data. */
export type TykJwtDataInput = {
  /** JWT secret (secret; redacted in answers). */
  secret?: string | null | undefined;
};

/** Tyk SessionState.monitor. */
export type TykMonitorInput = {
  /** Quota percentages that fire a monitor event; null clears them. */
  trigger_limits?: Array<number> | null | undefined;
};

/** One entry of Tyk `oauth_keys` (a string map). */
export type TykOAuthKeyInput = {
  /** Map key. */
  key: string;
  /** Map value. */
  value: string;
};

/** Tyk RateLimitSmoothing: gradual rate-limit changes. */
export type TykRateLimitSmoothingInput = {
  /** Seconds between allowance changes; int64 (Float, since values may exceed 2^31; send a whole number). */
  delay?: number | null | undefined;
  /** Turns smoothing on. */
  enabled?: boolean | null | undefined;
  /** Amount the allowance changes by per step; int64 (Float, since values may exceed 2^31; send a whole number). */
  step?: number | null | undefined;
  /** Minimum rate smoothing allows; int64 (Float, since values may exceed 2^31; send a whole number). */
  threshold?: number | null | undefined;
  /** Fraction of the current allowance that triggers a step up. */
  trigger?: number | null | undefined;
};

/** Tyk SessionEndpoint: per-endpoint rate limits. */
export type TykSessionEndpointInput = {
  /** Limits per method. */
  methods?: Array<TykSessionEndpointMethodInput> | null | undefined;
  /** Endpoint path. */
  path?: string | null | undefined;
};

/** Tyk SessionEndpointMethod: the rate limit of one method of an endpoint. */
export type TykSessionEndpointMethodInput = {
  /** Rate limit of the method. */
  limit?: TykSessionEndpointRateLimitInput | null | undefined;
  /** HTTP method. */
  name?: string | null | undefined;
};

/** Tyk SessionEndpointRateLimit. */
export type TykSessionEndpointRateLimitInput = {
  /** Window in seconds; int64 (Float, since values may exceed 2^31; send a whole number). */
  per?: number | null | undefined;
  /** Requests allowed per `per` seconds; int64 (Float, since values may exceed 2^31; send a whole number). */
  rate?: number | null | undefined;
};

/** Tyk SessionState fields in Tyk's wire names. Each field given replaces that whole field; the rest of the session is kept. alias, is_inactive, tags and expires are set through name, enabled, setTags/removeTags and expiresAt. */
export type TykSessionPatch = {
  /** Replaces the whole access_rights map (one entry per api_id); list every API the key should keep. null clears it. */
  access_rights?: Array<TykAccessRightInput> | null | undefined;
  /** Current rate-limit allowance. */
  allowance?: number | null | undefined;
  /** Policy ids applied to the key; null clears them. */
  apply_policies?: Array<string> | null | undefined;
  /** Legacy single policy id. */
  apply_policy_id?: string | null | undefined;
  /** Basic-auth credentials. */
  basic_auth_data?: TykBasicAuthDataInput | null | undefined;
  /** Client certificate id. */
  certificate?: string | null | undefined;
  /** Seconds analytics data is kept; int64 (Float, since values may exceed 2^31; send a whole number). */
  data_expires?: number | null | undefined;
  /** When the key was created. */
  date_created?: string | null | undefined;
  /** Records full requests and responses in analytics. */
  enable_detailed_recording?: boolean | null | undefined;
  /** Requires HMAC-signed requests. */
  hmac_enabled?: boolean | null | undefined;
  /** HMAC secret (secret; redacted in answers). */
  hmac_string?: string | null | undefined;
  /** Unix seconds the extracted id is cached until; int64 (Float, since values may exceed 2^31; send a whole number). */
  id_extractor_deadline?: number | null | undefined;
  /** JWT data. */
  jwt_data?: TykJwtDataInput | null | undefined;
  /** The key id. */
  key_id?: string | null | undefined;
  /** Unix seconds of the last check; int64 (Float, since values may exceed 2^31; send a whole number). */
  last_check?: number | null | undefined;
  /** Unix seconds of the last update, as a string. */
  last_updated?: string | null | undefined;
  /** Maximum GraphQL query depth. */
  max_query_depth?: number | null | undefined;
  /** Free-form metadata; replaces the whole object. null clears it. */
  meta_data?: any;
  /** Quota monitor. */
  monitor?: TykMonitorInput | null | undefined;
  /** OAuth client id the key belongs to. */
  oauth_client_id?: string | null | undefined;
  /** Replaces the whole oauth_keys map; null clears it. */
  oauth_keys?: Array<TykOAuthKeyInput> | null | undefined;
  /** Organisation id. Tyk refuses to change it (BAD_USER_INPUT). */
  org_id?: string | null | undefined;
  /** Rate-limit window in seconds. */
  per?: number | null | undefined;
  /** Requests per quota period (-1 = unlimited); int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_max?: number | null | undefined;
  /** Requests left in the quota period; int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_remaining?: number | null | undefined;
  /** Quota period in seconds (-1 = never); int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_renewal_rate?: number | null | undefined;
  /** Unix seconds when the quota renews; int64 (Float, since values may exceed 2^31; send a whole number). */
  quota_renews?: number | null | undefined;
  /** Requests allowed per `per` seconds. */
  rate?: number | null | undefined;
  /** Seconds the session lives in Tyk's store; int64 (Float, since values may exceed 2^31; send a whole number). */
  session_lifetime?: number | null | undefined;
  /** Rate-limit smoothing; null clears it. */
  smoothing?: TykRateLimitSmoothingInput | null | undefined;
  /** Seconds between retries when throttled. */
  throttle_interval?: number | null | undefined;
  /** Retries when throttled. */
  throttle_retry_limit?: number | null | undefined;
};

export type UpdateApiKeyMutationVariables = Exact<{
  provider: string;
  id: string;
  patch: ApiKeyPatch;
}>;


export type UpdateApiKeyMutation = { updateApiKey: { provider: string, kind: ProviderKind, id: string, name: string | null, enabled: boolean | null, roles: Array<string> | null, expiresAt: string | null, updatedAt: string | null, raw: any, tags: Array<{ key: string, value: string | null }> | null } };

export type ProvidersQueryVariables = Exact<{ [key: string]: never; }>;


export type ProvidersQuery = { providers: Array<{ name: string, kind: ProviderKind, patchFields: Array<string> }> };


export const UpdateApiKeyDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateApiKey"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"provider"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"patch"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ApiKeyPatch"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateApiKey"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"provider"},"value":{"kind":"Variable","name":{"kind":"Name","value":"provider"}}},{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"patch"},"value":{"kind":"Variable","name":{"kind":"Name","value":"patch"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"provider"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"roles"}},{"kind":"Field","name":{"kind":"Name","value":"tags"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"value"}}]}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}},{"kind":"Field","name":{"kind":"Name","value":"raw"}}]}}]}}]} as unknown as DocumentNode<UpdateApiKeyMutation, UpdateApiKeyMutationVariables>;
export const ProvidersDocument = {"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Providers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"providers"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"kind"}},{"kind":"Field","name":{"kind":"Name","value":"patchFields"}}]}}]}}]} as unknown as DocumentNode<ProvidersQuery, ProvidersQueryVariables>;
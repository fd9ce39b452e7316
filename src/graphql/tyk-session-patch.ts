/**
 * `TykSessionPatch`: every Tyk SessionState field (seed 003) that has no vendor-neutral patch field,
 * typed, under Tyk's own wire names. Each field given replaces that whole field of the session;
 * the rest of the session is kept (the adapter reads it first). GraphQL has no maps, so the two
 * map fields (`access_rights`, `oauth_keys`) are lists here and `toTykSessionFields` rebuilds them.
 *
 * int64 fields are `Float`, because GraphQL `Int` is 32-bit and Tyk's unix times and quotas may
 * exceed 2^31; the adapter checks that top-level ones are whole numbers.
 */
import { GatewayError } from '../core/errors.ts';
import { builder } from './builder.ts';

const INT64 = 'int64 (Float, since values may exceed 2^31; send a whole number)';

const TykRateLimitSmoothingInput = builder.inputType('TykRateLimitSmoothingInput', {
  description: 'Tyk RateLimitSmoothing: gradual rate-limit changes.',
  fields: (t) => ({
    enabled: t.boolean({ description: 'Turns smoothing on.' }),
    threshold: t.float({ description: `Minimum rate smoothing allows; ${INT64}.` }),
    trigger: t.float({ description: 'Fraction of the current allowance that triggers a step up.' }),
    step: t.float({ description: `Amount the allowance changes by per step; ${INT64}.` }),
    delay: t.float({ description: `Seconds between allowance changes; ${INT64}.` }),
  }),
});

const TykApiLimitInput = builder.inputType('TykApiLimitInput', {
  description: 'Tyk APILimit: rate and quota for one API of the key.',
  fields: (t) => ({
    rate: t.float({ description: 'Requests allowed per `per` seconds.' }),
    per: t.float({ description: 'Rate-limit window in seconds.' }),
    throttle_interval: t.float({ description: 'Seconds between retries when throttled.' }),
    throttle_retry_limit: t.int({ description: 'Retries when throttled.' }),
    max_query_depth: t.int({ description: 'Maximum GraphQL query depth.' }),
    quota_max: t.float({ description: `Requests per quota period (-1 = unlimited); ${INT64}.` }),
    quota_remaining: t.float({ description: `Requests left in the quota period; ${INT64}.` }),
    quota_renewal_rate: t.float({ description: `Quota period in seconds; ${INT64}.` }),
    quota_renews: t.float({ description: `Unix seconds when the quota renews; ${INT64}.` }),
    set_by_policy: t.boolean({ description: 'Whether a policy set this limit.' }),
    smoothing: t.field({ type: TykRateLimitSmoothingInput, description: 'Rate-limit smoothing; null clears it.' }),
  }),
});

const TykGraphqlTypeInput = builder.inputType('TykGraphqlTypeInput', {
  description: 'Tyk GraphqlType: a GraphQL type and some of its fields.',
  fields: (t) => ({
    name: t.string({ description: 'GraphQL type name.' }),
    fields: t.stringList({ description: 'Field names of the type; null clears them.' }),
  }),
});

const TykAccessSpecInput = builder.inputType('TykAccessSpecInput', {
  description: 'Tyk AccessSpec: an allowed URL and its methods.',
  fields: (t) => ({
    url: t.string({ description: 'URL path (regex) the key may call.' }),
    methods: t.stringList({ description: 'HTTP methods allowed on it; null clears them.' }),
  }),
});

const TykFieldLimitsInput = builder.inputType('TykFieldLimitsInput', {
  description: 'Tyk FieldLimits.',
  fields: (t) => ({
    max_query_depth: t.int({ description: 'Maximum query depth below this field.' }),
  }),
});

const TykFieldAccessDefinitionInput = builder.inputType('TykFieldAccessDefinitionInput', {
  description: 'Tyk FieldAccessDefinition: limits on one GraphQL field.',
  fields: (t) => ({
    type_name: t.string({ description: 'GraphQL type name.' }),
    field_name: t.string({ description: 'GraphQL field name.' }),
    limits: t.field({ type: TykFieldLimitsInput, description: 'Limits on the field.' }),
  }),
});

const TykSessionEndpointRateLimitInput = builder.inputType('TykSessionEndpointRateLimitInput', {
  description: 'Tyk SessionEndpointRateLimit.',
  fields: (t) => ({
    rate: t.float({ description: `Requests allowed per \`per\` seconds; ${INT64}.` }),
    per: t.float({ description: `Window in seconds; ${INT64}.` }),
  }),
});

const TykSessionEndpointMethodInput = builder.inputType('TykSessionEndpointMethodInput', {
  description: 'Tyk SessionEndpointMethod: the rate limit of one method of an endpoint.',
  fields: (t) => ({
    name: t.string({ description: 'HTTP method.' }),
    limit: t.field({ type: TykSessionEndpointRateLimitInput, description: 'Rate limit of the method.' }),
  }),
});

const TykSessionEndpointInput = builder.inputType('TykSessionEndpointInput', {
  description: 'Tyk SessionEndpoint: per-endpoint rate limits.',
  fields: (t) => ({
    path: t.string({ description: 'Endpoint path.' }),
    methods: t.field({ type: [TykSessionEndpointMethodInput], description: 'Limits per method.' }),
  }),
});

export const TykAccessRightInput = builder.inputType('TykAccessRightInput', {
  description: 'One entry of Tyk `access_rights` (an AccessDefinition), keyed by `api_id`.',
  fields: (t) => ({
    api_id: t.string({ required: true, description: 'The API id: the key of this entry in the access_rights map.' }),
    api_name: t.string({ description: 'The API name.' }),
    versions: t.stringList({ description: 'API versions the key may use; null clears them.' }),
    allowed_urls: t.field({ type: [TykAccessSpecInput], description: 'URL allow-list; null clears it.' }),
    restricted_types: t.field({ type: [TykGraphqlTypeInput], description: 'GraphQL types the key may not use; null clears them.' }),
    allowed_types: t.field({ type: [TykGraphqlTypeInput], description: 'GraphQL types the key may use; null clears them.' }),
    disable_introspection: t.boolean({ description: 'Blocks GraphQL introspection.' }),
    field_access_rights: t.field({ type: [TykFieldAccessDefinitionInput], description: 'GraphQL field limits; null clears them.' }),
    limit: t.field({ type: TykApiLimitInput, description: 'Per-API rate and quota; null clears it.' }),
    allowance_scope: t.string({ description: 'Scope the allowance is counted in.' }),
    endpoints: t.field({ type: [TykSessionEndpointInput], description: 'Per-endpoint rate limits.' }),
  }),
});

const TykMonitorInput = builder.inputType('TykMonitorInput', {
  description: 'Tyk SessionState.monitor.',
  fields: (t) => ({
    trigger_limits: t.floatList({ description: 'Quota percentages that fire a monitor event; null clears them.' }),
  }),
});

const TykBasicAuthDataInput = builder.inputType('TykBasicAuthDataInput', {
  description: 'Tyk SessionState.basic_auth_data.',
  fields: (t) => ({
    user: t.string({ description: 'Basic-auth user name.' }),
    password: t.string({ description: 'Basic-auth password (secret; redacted in answers).' }),
    hash_type: t.string({ description: 'How the password is hashed.' }),
  }),
});

const TykJwtDataInput = builder.inputType('TykJwtDataInput', {
  description: 'Tyk SessionState.jwt_data.',
  fields: (t) => ({
    secret: t.string({ description: 'JWT secret (secret; redacted in answers).' }),
  }),
});

const TykOAuthKeyInput = builder.inputType('TykOAuthKeyInput', {
  description: 'One entry of Tyk `oauth_keys` (a string map).',
  fields: (t) => ({
    key: t.string({ required: true, description: 'Map key.' }),
    value: t.string({ required: true, description: 'Map value.' }),
  }),
});

export const TykSessionPatchInput = builder.inputType('TykSessionPatch', {
  description:
    "Tyk SessionState fields in Tyk's wire names. Each field given replaces that whole field; the rest of the session is kept. alias, is_inactive, tags and expires are set through name, enabled, setTags/removeTags and expiresAt.",
  fields: (t) => ({
    access_rights: t.field({
      type: [TykAccessRightInput],
      description: 'Replaces the whole access_rights map (one entry per api_id); list every API the key should keep. null clears it.',
    }),
    allowance: t.float({ description: 'Current rate-limit allowance.' }),
    apply_policies: t.stringList({ description: 'Policy ids applied to the key; null clears them.' }),
    apply_policy_id: t.string({ description: 'Legacy single policy id.' }),
    basic_auth_data: t.field({ type: TykBasicAuthDataInput, description: 'Basic-auth credentials.' }),
    certificate: t.string({ description: 'Client certificate id.' }),
    data_expires: t.float({ description: `Seconds analytics data is kept; ${INT64}.` }),
    date_created: t.field({ type: 'DateTime', description: 'When the key was created.' }),
    enable_detailed_recording: t.boolean({ description: 'Records full requests and responses in analytics.' }),
    hmac_enabled: t.boolean({ description: 'Requires HMAC-signed requests.' }),
    hmac_string: t.string({ description: 'HMAC secret (secret; redacted in answers).' }),
    id_extractor_deadline: t.float({ description: `Unix seconds the extracted id is cached until; ${INT64}.` }),
    jwt_data: t.field({ type: TykJwtDataInput, description: 'JWT data.' }),
    key_id: t.string({ description: 'The key id.' }),
    last_check: t.float({ description: `Unix seconds of the last check; ${INT64}.` }),
    last_updated: t.string({ description: 'Unix seconds of the last update, as a string.' }),
    max_query_depth: t.int({ description: 'Maximum GraphQL query depth.' }),
    meta_data: t.field({ type: 'JSON', description: 'Free-form metadata; replaces the whole object. null clears it.' }),
    monitor: t.field({ type: TykMonitorInput, description: 'Quota monitor.' }),
    oauth_client_id: t.string({ description: 'OAuth client id the key belongs to.' }),
    oauth_keys: t.field({ type: [TykOAuthKeyInput], description: 'Replaces the whole oauth_keys map; null clears it.' }),
    org_id: t.string({ description: 'Organisation id. Tyk refuses to change it (BAD_USER_INPUT).' }),
    per: t.float({ description: 'Rate-limit window in seconds.' }),
    quota_max: t.float({ description: `Requests per quota period (-1 = unlimited); ${INT64}.` }),
    quota_remaining: t.float({ description: `Requests left in the quota period; ${INT64}.` }),
    quota_renewal_rate: t.float({ description: `Quota period in seconds (-1 = never); ${INT64}.` }),
    quota_renews: t.float({ description: `Unix seconds when the quota renews; ${INT64}.` }),
    rate: t.float({ description: 'Requests allowed per `per` seconds.' }),
    session_lifetime: t.float({ description: `Seconds the session lives in Tyk's store; ${INT64}.` }),
    smoothing: t.field({ type: TykRateLimitSmoothingInput, description: 'Rate-limit smoothing; null clears it.' }),
    throttle_interval: t.float({ description: 'Seconds between retries when throttled.' }),
    throttle_retry_limit: t.int({ description: 'Retries when throttled.' }),
  }),
});

export type TykSessionPatchValue = typeof TykSessionPatchInput.$inferInput;

type Plain = Record<string, unknown>;
type Convert = (value: unknown) => unknown;

/**
 * Copies the fields that were given: undefined is dropped, null is kept only for `nullable`
 * fields (where the seed allows null; elsewhere null means "leave alone"), and `convert` reshapes.
 */
function pick(value: unknown, nullable: readonly string[], convert: Record<string, Convert> = {}): Plain {
  const out: Plain = {};
  for (const [k, v] of Object.entries(value as Plain)) {
    if (v === undefined) continue;
    if (v === null) {
      if (nullable.includes(k)) out[k] = null;
      continue;
    }
    out[k] = convert[k] ? convert[k](v) : v;
  }
  return out;
}

const list =
  (item: Convert): Convert =>
  (v) =>
    (v as unknown[]).map(item);

const plain: Convert = (v) => pick(v, []);
const smoothing: Convert = plain;
const apiLimit: Convert = (v) => pick(v, ['smoothing'], { smoothing });
const graphqlType: Convert = (v) => pick(v, ['fields']);
const accessSpec: Convert = (v) => pick(v, ['methods']);
const fieldAccess: Convert = (v) => pick(v, [], { limits: plain });
const endpointMethod: Convert = (v) => pick(v, [], { limit: plain });
const endpoint: Convert = (v) => pick(v, [], { methods: list(endpointMethod) });
const accessDefinition: Convert = (v) =>
  pick(v, ['versions', 'allowed_urls', 'restricted_types', 'allowed_types', 'field_access_rights', 'limit'], {
    allowed_urls: list(accessSpec),
    restricted_types: list(graphqlType),
    allowed_types: list(graphqlType),
    field_access_rights: list(fieldAccess),
    limit: apiLimit,
    endpoints: list(endpoint),
  });

/**
 * A GraphQL list as the map Tyk wants, keyed by each entry's `keyName`. The map has no prototype, so every key
 * is kept as sent (checkUpdate then refuses `__proto__`); a key given twice is refused, never merged.
 */
function toMap(list: unknown, field: string, keyName: string, entry: (e: Plain) => unknown, allowEmpty: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = Object.create(null);
  (list as Plain[]).forEach((e, i) => {
    const key = e[keyName] as string;
    const at = `patch.tyk.${field}[${i}].${keyName}`;
    const problem =
      !allowEmpty && key.length === 0 ? 'must not be empty' : Object.hasOwn(out, key) ? `${JSON.stringify(key)} appears more than once` : undefined;
    if (problem) throw new GatewayError(`invalid patch: ${at} ${problem}`, { code: 'BAD_USER_INPUT', details: { fields: [at] } });
    out[key] = entry(e);
  });
  return out;
}

const toAccessRights: Convert = (v) => toMap(v, 'access_rights', 'api_id', accessDefinition, false);
const toOAuthKeys: Convert = (v) => toMap(v, 'oauth_keys', 'key', (e) => e.value, true);

/** The GraphQL `TykSessionPatch` as SessionState wire fields (what `ApiKeyPatch.tyk` holds). */
export function toTykSessionFields(input: TykSessionPatchValue): Record<string, unknown> {
  return pick(input, ['access_rights', 'apply_policies', 'meta_data', 'oauth_keys', 'smoothing'], {
    access_rights: toAccessRights,
    oauth_keys: toOAuthKeys,
    basic_auth_data: plain,
    jwt_data: plain,
    monitor: (v) => pick(v, ['trigger_limits']),
    smoothing,
    date_created: (v) => (v as Date).toISOString(),
  });
}

/**
 * `TykSessionPatch`: every Tyk SessionState field (seed 003) that has no vendor-neutral patch field,
 * typed, under Tyk's own wire names, declared as data (src/graphql/vendor-inputs.ts builds the
 * GraphQL input types). Each field given replaces that whole field of the session; the rest of the
 * session is kept (the adapter reads it first). GraphQL has no maps, so the two map fields
 * (`access_rights`, `oauth_keys`) are lists here and `toTykSessionFields` rebuilds them.
 *
 * Each declaration must list exactly the fields of its wire type (wire.ts), so the field list is
 * kept once: in wire.ts; the compiler refuses a declaration that misses or adds one.
 */
import { PatchInputError, type InputFieldSpec, type InputTypeSpec, type PatchInputSpec } from '../types.ts';
import type {
  TykAccessDefinition,
  TykAccessSpec,
  TykAPILimit,
  TykBasicAuthData,
  TykFieldAccessDefinition,
  TykFieldLimits,
  TykGraphqlType,
  TykJwtData,
  TykMonitor,
  TykRateLimitSmoothing,
  TykSessionEndpoint,
  TykSessionEndpointMethod,
  TykSessionEndpointRateLimit,
  TykSessionState,
} from './wire.ts';

/** SessionState fields that have a vendor-neutral patch field (the value names it); `tyk` must not set them. */
export const GENERIC_FIELDS = {
  alias: 'name',
  is_inactive: 'enabled',
  tags: 'setTags / removeTags',
  expires: 'expiresAt',
} as const;

interface TykField extends InputFieldSpec {
  /** null is sent as null (the seed allows it: it clears the field); elsewhere null means "leave alone". */
  clears?: true;
  /** An int64 carried as Float (GraphQL Int is 32-bit); top-level ones must be whole numbers. */
  int64?: true;
  /** A map on the wire, a list here: keyed by each entry's `key` field; the value is the entry, or its `value` field. */
  map?: { key: string; value?: string; emptyKey?: true };
}

interface TykType<Wire> extends InputTypeSpec {
  fields: { readonly [K in keyof Required<Wire>]: TykField };
}

const INT64 = 'int64 (Float, since values may exceed 2^31; send a whole number)';
const int64 = (what: string): TykField => ({ type: 'Float', int64: true, description: `${what}; ${INT64}.` });
const float = (description: string): TykField => ({ type: 'Float', description });
const int = (description: string): TykField => ({ type: 'Int', description });
const bool = (description: string): TykField => ({ type: 'Boolean', description });
const string = (description: string): TykField => ({ type: 'String', description });
const strings = (description: string): TykField => ({ type: 'String', list: true, clears: true, description });
const input = (name: string, description: string, more: Partial<TykField> = {}): TykField => ({ type: { input: name }, description, ...more });

const smoothing: TykType<TykRateLimitSmoothing> = {
  name: 'TykRateLimitSmoothingInput',
  description: 'Tyk RateLimitSmoothing: gradual rate-limit changes.',
  fields: {
    enabled: bool('Turns smoothing on.'),
    threshold: int64('Minimum rate smoothing allows'),
    trigger: float('Fraction of the current allowance that triggers a step up.'),
    step: int64('Amount the allowance changes by per step'),
    delay: int64('Seconds between allowance changes'),
  },
};

const apiLimit: TykType<TykAPILimit> = {
  name: 'TykApiLimitInput',
  description: 'Tyk APILimit: rate and quota for one API of the key.',
  fields: {
    rate: float('Requests allowed per `per` seconds.'),
    per: float('Rate-limit window in seconds.'),
    throttle_interval: float('Seconds between retries when throttled.'),
    throttle_retry_limit: int('Retries when throttled.'),
    max_query_depth: int('Maximum GraphQL query depth.'),
    quota_max: int64('Requests per quota period (-1 = unlimited)'),
    quota_remaining: int64('Requests left in the quota period'),
    quota_renewal_rate: int64('Quota period in seconds'),
    quota_renews: int64('Unix seconds when the quota renews'),
    set_by_policy: bool('Whether a policy set this limit.'),
    smoothing: input(smoothing.name, 'Rate-limit smoothing; null clears it.', { clears: true }),
  },
};

const graphqlType: TykType<TykGraphqlType> = {
  name: 'TykGraphqlTypeInput',
  description: 'Tyk GraphqlType: a GraphQL type and some of its fields.',
  fields: {
    name: string('GraphQL type name.'),
    fields: strings('Field names of the type; null clears them.'),
  },
};

const accessSpec: TykType<TykAccessSpec> = {
  name: 'TykAccessSpecInput',
  description: 'Tyk AccessSpec: an allowed URL and its methods.',
  fields: {
    url: string('URL path (regex) the key may call.'),
    methods: strings('HTTP methods allowed on it; null clears them.'),
  },
};

const fieldLimits: TykType<TykFieldLimits> = {
  name: 'TykFieldLimitsInput',
  description: 'Tyk FieldLimits.',
  fields: {
    max_query_depth: int('Maximum query depth below this field.'),
  },
};

const fieldAccess: TykType<TykFieldAccessDefinition> = {
  name: 'TykFieldAccessDefinitionInput',
  description: 'Tyk FieldAccessDefinition: limits on one GraphQL field.',
  fields: {
    type_name: string('GraphQL type name.'),
    field_name: string('GraphQL field name.'),
    limits: input(fieldLimits.name, 'Limits on the field.'),
  },
};

const endpointRateLimit: TykType<TykSessionEndpointRateLimit> = {
  name: 'TykSessionEndpointRateLimitInput',
  description: 'Tyk SessionEndpointRateLimit.',
  fields: {
    rate: int64('Requests allowed per `per` seconds'),
    per: int64('Window in seconds'),
  },
};

const endpointMethod: TykType<TykSessionEndpointMethod> = {
  name: 'TykSessionEndpointMethodInput',
  description: 'Tyk SessionEndpointMethod: the rate limit of one method of an endpoint.',
  fields: {
    name: string('HTTP method.'),
    limit: input(endpointRateLimit.name, 'Rate limit of the method.'),
  },
};

const endpoint: TykType<TykSessionEndpoint> = {
  name: 'TykSessionEndpointInput',
  description: 'Tyk SessionEndpoint: per-endpoint rate limits.',
  fields: {
    path: string('Endpoint path.'),
    methods: input(endpointMethod.name, 'Limits per method.', { list: true }),
  },
};

const accessRight: TykType<TykAccessDefinition> = {
  name: 'TykAccessRightInput',
  description: 'One entry of Tyk `access_rights` (an AccessDefinition), keyed by `api_id`.',
  fields: {
    api_id: { type: 'String', required: true, description: 'The API id: the key of this entry in the access_rights map.' },
    api_name: string('The API name.'),
    versions: strings('API versions the key may use; null clears them.'),
    allowed_urls: input(accessSpec.name, 'URL allow-list; null clears it.', { list: true, clears: true }),
    restricted_types: input(graphqlType.name, 'GraphQL types the key may not use; null clears them.', { list: true, clears: true }),
    allowed_types: input(graphqlType.name, 'GraphQL types the key may use; null clears them.', { list: true, clears: true }),
    disable_introspection: bool('Blocks GraphQL introspection.'),
    field_access_rights: input(fieldAccess.name, 'GraphQL field limits; null clears them.', { list: true, clears: true }),
    limit: input(apiLimit.name, 'Per-API rate and quota; null clears it.', { clears: true }),
    allowance_scope: string('Scope the allowance is counted in.'),
    endpoints: input(endpoint.name, 'Per-endpoint rate limits.', { list: true }),
  },
};

const monitor: TykType<TykMonitor> = {
  name: 'TykMonitorInput',
  description: 'Tyk SessionState.monitor.',
  fields: {
    trigger_limits: { type: 'Float', list: true, clears: true, description: 'Quota percentages that fire a monitor event; null clears them.' },
  },
};

const basicAuthData: TykType<TykBasicAuthData> = {
  name: 'TykBasicAuthDataInput',
  description: 'Tyk SessionState.basic_auth_data.',
  fields: {
    user: string('Basic-auth user name.'),
    password: string('Basic-auth password (secret; redacted in answers).'),
    hash_type: string('How the password is hashed.'),
  },
};

const jwtData: TykType<TykJwtData> = {
  name: 'TykJwtDataInput',
  description: 'Tyk SessionState.jwt_data.',
  fields: {
    secret: string('JWT secret (secret; redacted in answers).'),
  },
};

const oauthKey: TykType<{ key: string; value: string }> = {
  name: 'TykOAuthKeyInput',
  description: 'One entry of Tyk `oauth_keys` (a string map).',
  fields: {
    key: { type: 'String', required: true, description: 'Map key.' },
    value: { type: 'String', required: true, description: 'Map value.' },
  },
};

const sessionPatch: TykType<Omit<TykSessionState, keyof typeof GENERIC_FIELDS>> = {
  name: 'TykSessionPatch',
  description:
    "Tyk SessionState fields in Tyk's wire names. Each field given replaces that whole field; the rest of the session is kept. alias, is_inactive, tags and expires are set through name, enabled, setTags/removeTags and expiresAt.",
  fields: {
    access_rights: input(accessRight.name, 'Replaces the whole access_rights map (one entry per api_id); list every API the key should keep. null clears it.', {
      list: true,
      clears: true,
      map: { key: 'api_id' },
    }),
    allowance: float('Current rate-limit allowance.'),
    apply_policies: strings('Policy ids applied to the key; null clears them.'),
    apply_policy_id: string('Legacy single policy id.'),
    basic_auth_data: input(basicAuthData.name, 'Basic-auth credentials.'),
    certificate: string('Client certificate id.'),
    data_expires: int64('Seconds analytics data is kept'),
    date_created: { type: 'DateTime', description: 'When the key was created.' },
    enable_detailed_recording: bool('Records full requests and responses in analytics.'),
    hmac_enabled: bool('Requires HMAC-signed requests.'),
    hmac_string: string('HMAC secret (secret; redacted in answers).'),
    id_extractor_deadline: int64('Unix seconds the extracted id is cached until'),
    jwt_data: input(jwtData.name, 'JWT data.'),
    key_id: string('The key id.'),
    last_check: int64('Unix seconds of the last check'),
    last_updated: string('Unix seconds of the last update, as a string.'),
    max_query_depth: int('Maximum GraphQL query depth.'),
    meta_data: { type: 'JSON', clears: true, description: 'Free-form metadata; replaces the whole object. null clears it.' },
    monitor: input(monitor.name, 'Quota monitor.'),
    oauth_client_id: string('OAuth client id the key belongs to.'),
    oauth_keys: input(oauthKey.name, 'Replaces the whole oauth_keys map; null clears it.', {
      list: true,
      clears: true,
      map: { key: 'key', value: 'value', emptyKey: true },
    }),
    org_id: string('Organisation id. Tyk refuses to change it (BAD_USER_INPUT).'),
    per: float('Rate-limit window in seconds.'),
    quota_max: int64('Requests per quota period (-1 = unlimited)'),
    quota_remaining: int64('Requests left in the quota period'),
    quota_renewal_rate: int64('Quota period in seconds (-1 = never)'),
    quota_renews: int64('Unix seconds when the quota renews'),
    rate: float('Requests allowed per `per` seconds.'),
    session_lifetime: int64("Seconds the session lives in Tyk's store"),
    smoothing: input(smoothing.name, 'Rate-limit smoothing; null clears it.', { clears: true }),
    throttle_interval: float('Seconds between retries when throttled.'),
    throttle_retry_limit: int('Retries when throttled.'),
  },
};

/** In the order the schema lists them: each before the types that use it. */
const TYPES: readonly TykType<unknown>[] = [
  smoothing,
  apiLimit,
  graphqlType,
  accessSpec,
  fieldLimits,
  fieldAccess,
  endpointRateLimit,
  endpointMethod,
  endpoint,
  accessRight,
  monitor,
  basicAuthData,
  jwtData,
  oauthKey,
  sessionPatch,
];
const byName = new Map(TYPES.map((t) => [t.name, t]));

/** Top-level SessionState fields the seed types as integers (int64 or int): they must be whole numbers. */
export const INTEGER_FIELDS: readonly string[] = Object.entries(sessionPatch.fields as Record<string, TykField>)
  .filter(([, f]) => f.type === 'Int' || f.int64)
  .map(([name]) => name);

type Plain = Record<string, unknown>;

/** The fields of `type` that were given: undefined is dropped, null kept only where it clears the field. */
function toWireObject(type: TykType<unknown>, value: Plain, at: string): Plain {
  const out: Plain = {};
  for (const [name, field] of Object.entries(type.fields as Record<string, TykField>)) {
    const v = value[name];
    if (v === undefined) continue;
    if (v === null) {
      if (field.clears) out[name] = null;
      continue;
    }
    if (field.map) out[name] = toMap(v as Plain[], field, `${at}.${name}`);
    else out[name] = field.list ? (v as unknown[]).map((item) => toWireValue(field, item, at)) : toWireValue(field, v, at);
  }
  return out;
}

function toWireValue(field: TykField, v: unknown, at: string): unknown {
  if (field.type === 'DateTime') return (v as Date).toISOString();
  if (typeof field.type === 'object') return toWireObject(byName.get(field.type.input)!, v as Plain, at);
  return v;
}

/**
 * A GraphQL list as the map Tyk wants, keyed by each entry's key field. The map has no prototype, so every key
 * is kept as sent (the gateway then refuses `__proto__`); a key given twice is refused, never merged.
 */
function toMap(list: Plain[], field: TykField, at: string): Record<string, unknown> {
  const { key: keyName, value: valueName, emptyKey } = field.map!;
  const out: Record<string, unknown> = Object.create(null);
  list.forEach((e, i) => {
    const key = e[keyName] as string;
    const problem = !emptyKey && key.length === 0 ? 'must not be empty' : Object.hasOwn(out, key) ? `${JSON.stringify(key)} appears more than once` : undefined;
    if (problem) throw new PatchInputError([{ field: `${at}[${i}].${keyName}`, message: problem }]);
    const entry = toWireValue(field, e, at) as Plain;
    out[key] = valueName ? entry[valueName] : entry;
  });
  return out;
}

/** The client's `TykSessionPatch` as SessionState wire fields (what `ApiKeyPatch.tyk` holds). */
export function toTykSessionFields(patch: Plain): Plain {
  return toWireObject(sessionPatch, patch, 'tyk');
}

export const tykPatchInput: PatchInputSpec = {
  field: 'tyk',
  description: 'Any other Tyk SessionState field; each one given replaces that field.',
  types: TYPES,
  root: sessionPatch.name,
  toWire: toTykSessionFields,
};

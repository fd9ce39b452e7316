/**
 * Configuration, validated into a typed Config (load.ts reads the YAML and expands `${VAR}`;
 * describe.ts prints it). Every problem names its path (`providers.atlas.orgId: required`); nothing here
 * ever prints a value, so no credential reaches an error message.
 */
import { resolve as resolvePath } from 'node:path';
import { z } from 'zod';
import { providers as registry, providerKinds } from '../../providers/index.ts';
import type { ProviderAdapter, ProviderKind } from '../../providers/types.ts';
import { DefinitionError } from '../../providers/http/engine.ts';
import { configuredAdapter, HTTP_CONNECTION_FIELDS } from '../../providers/http/configured.ts';
import { parseScope, sha256, type Scope } from '../auth/scopes.ts';

export interface ConnectionConfig {
  /** What clients pass as `provider`. */
  name: string;
  kind: ProviderKind;
  adapter: ProviderAdapter;
  /** The adapter's own config: baseUrl plus the kind-specific fields. */
  settings: { baseUrl: string } & Record<string, unknown>;
  /** One attempt. */
  timeoutMs: number;
  /** The whole call: attempts, waits and auth handshakes included. */
  deadlineMs: number;
  retry: { attempts: number; maxDelayMs: number };
  /** Calls in flight to this connection (the bulkhead); bulk updates never exceed it either. */
  maxConcurrency: number;
  circuitBreaker: { failures: number; cooldownMs: number };
  /**
   * The vendor's budget as a token bucket (src/upstream/rate-limit.ts); `store`: the Redis holding the
   * bucket (src/upstream/redis-buckets.ts), absent: the default store. 'signals': no budget of its
   * own, but the vendor's 429s and rate-limit headers still pause the connection; false: neither.
   */
  rateLimit: { requests: number; perSeconds: number; burst: number; store?: string } | 'signals' | false;
  /** `apiKey` and `apiKeys` answers kept this long (src/core/read-cache.ts); undefined: no cache. */
  cache?: { ttlSeconds: number };
}

export interface Config {
  providers: Map<string, ConnectionConfig>;
  /** Every credential value in the config, for redaction. */
  secrets: string[];
  /** `/metrics` on its own port (e.g. bound to an internal interface); absent: on the main port. */
  metrics: { port?: number; host: string };
  /** Optional OTLP/HTTP trace export (off without an endpoint). */
  tracing: { otlpEndpoint?: string; serviceName: string };
  /** Caller authentication; absent: keygate serves loopback only and every caller holds every scope. */
  auth?: AuthConfig;
  /** Where the append-only audit log goes. */
  audit: AuditConfig;
  /** The HTTP edge: GraphiQL, introspection, CORS, body size, slow-client timeouts, connections. */
  server: ServerConfig;
  /** Query limits (graphql-armor). */
  limits: LimitsConfig;
}

/** One static caller token. Only its SHA-256 is kept; comparison is constant-time. */
export interface CallerTokenConfig {
  name: string;
  sha256: Buffer;
  scopes: Scope[];
}

/** Callers authenticated by a JWT (jose): signature, `iss`, `aud` and `exp` are checked. */
export interface JwtConfig {
  issuer: string;
  audience: string;
  /** Keys from a JWKS URL, or one public key (PEM SPKI or a JWK as JSON). */
  jwksUrl?: string;
  publicKey?: string;
  algorithms: string[];
  /** The claim holding the scopes: a space-separated string (OAuth `scope`) or a list. */
  scopesClaim: string;
  /** The claim naming the caller: `jwt:<issuer>#<claim>` in the audit log and logs (src/auth/). */
  nameClaim: string;
  clockToleranceSec: number;
}

export interface AuthConfig {
  tokens: CallerTokenConfig[];
  jwt?: JwtConfig;
}

export type AuditConfig =
  | { store: 'off' }
  /** `synchronous`: SQLite's; `full` fsyncs every row before the answer (see src/audit/sqlite.ts). */
  | { store: 'sqlite'; path: string; synchronous: 'normal' | 'full' }
  | { store: 'postgres'; url: string; schema: string };

export interface ServerConfig {
  graphiql: boolean;
  /** The keys console at /console (src/http/console-assets.ts). */
  console: boolean;
  /** Schema introspection; when on and `auth` is configured it needs a valid token like any operation. */
  introspection: boolean;
  /** Origins allowed by CORS; empty: no CORS headers at all. */
  cors: { origins: string[] };
  maxBodyBytes: number;
  /** On SIGTERM/SIGINT, how long requests in flight may still run before their connections are dropped. */
  shutdownGraceMs: number;
  /** A client's request headers must arrive within this (an idle new connection included): else 408. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this: else 408. The call itself is not bounded by it. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Open connections per listening port (main and metrics); those beyond are closed at once. */
  maxConnections: number;
}

export interface LimitsConfig {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxCost: number;
  maxDirectives: number;
  /** Vendor writes one request may ask for: each updateApiKey counts 1, each updateApiKeys its items. */
  maxUpdatesPerRequest: number;
  /** Items one bulk update job may hold (`startApiKeyUpdateJob`). */
  maxJobItems: number;
}

/** The top-level sections a config may have. */
const SECTIONS = ['providers', 'metrics', 'tracing', 'auth', 'audit', 'server', 'limits'];

/** The SQLite audit file when `audit` is absent, relative to the config file's folder. */
export const DEFAULT_AUDIT_FILE = 'keygate-audit.db';
export const MAX_BODY_BYTES = 1_048_576;
/** How long requests in flight may still run after SIGTERM/SIGINT (`server.shutdownGraceMs`). */
const SHUTDOWN_GRACE_MS = 10_000;
/** Slow-client bounds of every listening port (`server.*TimeoutMs`, `server.maxConnections`). */
export const DEFAULT_EDGE_TIMEOUTS = { headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, keepAliveTimeoutMs: 5_000, maxConnections: 1024 };
export const DEFAULT_LIMITS: LimitsConfig = {
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 5000,
  maxCost: 5000,
  maxDirectives: 20,
  maxUpdatesPerRequest: 100,
  maxJobItems: 10_000,
};

const SCOPE_HELP = 'must be keys:read, keys:write or audit:read, optionally narrowed with :<provider> or :*';

const tokenEntry = z
  .object({
    // No `:` or `#`: the caller is `token:<name>` beside `jwt:<issuer>#<sub>` (src/auth/).
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/, 'must be 1..64 of letters, digits, . _ @ - (starting with a letter or digit)'),
    token: z.string().min(16, 'must be at least 16 characters').max(4096).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits: the SHA-256 of the token')
      .optional(),
    scopes: z.array(z.string().refine((s) => parseScope(s) !== undefined, SCOPE_HELP)).min(1, 'must list at least one scope'),
  })
  .strict()
  .refine((t) => (t.token === undefined) !== (t.sha256 === undefined), 'needs exactly one of token or sha256');

const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

const jwtSection = z
  .object({
    issuer: z.string().min(1),
    audience: z.string().min(1),
    jwksUrl: z.string().refine(isHttpUrl, 'must be an absolute http(s) URL').optional(),
    publicKey: z.string().min(1).optional(),
    algorithms: z.array(z.enum(JWT_ALGORITHMS)).min(1).default(['RS256', 'ES256', 'EdDSA']),
    scopesClaim: z.string().min(1).default('scope'),
    nameClaim: z.string().min(1).default('sub'),
    clockToleranceSec: z.number().int().min(0).max(300).default(30),
  })
  .strict()
  .refine((j) => (j.jwksUrl === undefined) !== (j.publicKey === undefined), 'needs exactly one of jwksUrl or publicKey');

const authSection = z
  .object({ tokens: z.array(tokenEntry).default([]), jwt: jwtSection.optional() })
  .strict()
  .refine((a) => a.tokens.length > 0 || a.jwt !== undefined, 'needs tokens, jwt or both');

const auditSection = z
  .object({
    sqlite: z.string().min(1).optional(),
    postgres: z
      .string()
      .refine((u) => /^postgres(ql)?:\/\//.test(u), 'must be a postgres:// or postgresql:// URL')
      .optional(),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier (letters, digits, _)')
      .optional(),
    synchronous: z.enum(['normal', 'full']).optional(),
  })
  .strict()
  .refine((a) => !(a.sqlite !== undefined && a.postgres !== undefined), 'set sqlite or postgres, not both')
  .refine((a) => a.schema === undefined || a.postgres !== undefined, 'schema applies to postgres only')
  .refine((a) => a.synchronous === undefined || a.postgres === undefined, 'synchronous applies to sqlite only');

const serverSection = z
  .object({
    graphiql: z.boolean().default(false),
    console: z.boolean().default(false),
    introspection: z.boolean().default(true),
    cors: z
      .object({ origins: z.array(z.string().refine(isOrigin, 'must be an origin such as https://dash.example.com (no path)')).default([]) })
      .strict()
      .default({ origins: [] }),
    maxBodyBytes: z.number().int().min(1024).max(MAX_BODY_BYTES).default(MAX_BODY_BYTES),
    shutdownGraceMs: z.number().int().min(0).max(600_000).default(SHUTDOWN_GRACE_MS),
    headersTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_EDGE_TIMEOUTS.headersTimeoutMs),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_EDGE_TIMEOUTS.requestTimeoutMs),
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(DEFAULT_EDGE_TIMEOUTS.keepAliveTimeoutMs),
    maxConnections: z.number().int().min(1).max(1_000_000).default(DEFAULT_EDGE_TIMEOUTS.maxConnections),
  })
  .strict()
  // Node refuses a headers timeout longer than the request timeout.
  .refine((s) => s.headersTimeoutMs <= s.requestTimeoutMs, { path: ['headersTimeoutMs'], message: 'must not exceed server.requestTimeoutMs' })
  .default({
    graphiql: false,
    console: false,
    introspection: true,
    cors: { origins: [] },
    maxBodyBytes: MAX_BODY_BYTES,
    shutdownGraceMs: SHUTDOWN_GRACE_MS,
    ...DEFAULT_EDGE_TIMEOUTS,
  });

const limitsSection = z
  .object({
    maxDepth: z.number().int().min(1).max(100).default(DEFAULT_LIMITS.maxDepth),
    maxAliases: z.number().int().min(0).max(1000).default(DEFAULT_LIMITS.maxAliases),
    maxTokens: z.number().int().min(100).max(100_000).default(DEFAULT_LIMITS.maxTokens),
    maxCost: z.number().int().min(1).max(1_000_000).default(DEFAULT_LIMITS.maxCost),
    maxDirectives: z.number().int().min(0).max(1000).default(DEFAULT_LIMITS.maxDirectives),
    maxUpdatesPerRequest: z.number().int().min(1).max(10_000).default(DEFAULT_LIMITS.maxUpdatesPerRequest),
    maxJobItems: z.number().int().min(1).max(10_000).default(DEFAULT_LIMITS.maxJobItems),
  })
  .strict()
  .default(DEFAULT_LIMITS);

const tracingSection = z
  .object({
    otlpEndpoint: z.string().refine(isHttpUrl, 'must be an absolute http(s) URL, e.g. http://collector:4318/v1/traces').optional(),
    serviceName: z.string().min(1).default('keygate'),
  })
  .strict()
  .default({ serviceName: 'keygate' });

const metricsSection = z
  .object({
    port: z.number().int().min(0).max(65535).optional(),
    host: z.string().min(1).default('127.0.0.1'),
  })
  .strict()
  .default({ host: '127.0.0.1' });

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

export const DEFAULT_TIMEOUT_MS = 5_000;
const REDIS_STORE_HELP = 'must be a redis:// or rediss:// URL: redis://[user:password@]host[:port][/db], no query or fragment';
const PROVIDER_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;

const connectionCommon = z.object({
  kind: z.enum([...providerKinds, 'http'] as unknown as [ProviderKind, ...ProviderKind[]]),
  baseUrl: z.string().refine(isHttpUrl, 'must be an absolute http(s) URL without credentials, query or fragment').optional(),
  timeoutMs: z.number().int().min(1).max(600_000).default(DEFAULT_TIMEOUT_MS),
  deadlineMs: z.number().int().min(1).max(3_600_000).default(15_000),
  retry: z
    .object({ attempts: z.number().int().min(1).max(10).default(3), maxDelayMs: z.number().int().min(0).max(600_000).default(10_000) })
    .strict()
    .default({ attempts: 3, maxDelayMs: 10_000 }),
  maxConcurrency: z.number().int().min(1).max(1024).default(8),
  circuitBreaker: z
    .object({ failures: z.number().int().min(1).max(1000).default(5), cooldownMs: z.number().int().min(1).max(3_600_000).default(30_000) })
    .strict()
    .default({ failures: 5, cooldownMs: 30_000 }),
  rateLimit: z
    .union([
      z.literal(false),
      z
        .object({
          requests: z.number().int().min(1).max(1_000_000).optional(),
          perSeconds: z.number().min(0.001).max(86_400).optional(),
          burst: z.number().int().min(1).max(1_000_000).optional(),
          // Checked as a refinement, not a type, so a non-string still gets this message (not the union's "Invalid input").
          store: z
            .unknown()
            .refine(isRedisUrl, REDIS_STORE_HELP)
            .transform((v) => v as string)
            .optional(),
        })
        .strict()
        // `{ store }` alone means the kind's default budget (checked once the kind is known); else the budget is whole.
        .superRefine((r, ctx) => {
          if (r.store !== undefined && r.requests === undefined && r.perSeconds === undefined && r.burst === undefined) return;
          for (const field of ['requests', 'perSeconds'] as const)
            if (r[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'required' });
        }),
    ])
    .optional(),
  cache: z
    .object({ ttlSeconds: z.number().min(0.001).max(3600) })
    .strict()
    .optional(),
});

export interface ResolveOptions {
  /** Relative file paths in the config (the SQLite audit file) are resolved from here (default: the working directory). */
  baseDir?: string;
}

/** Validates an already-parsed, already-expanded config object. */
export function resolveConfig(doc: unknown, options: ResolveOptions = {}): Config {
  const problems: string[] = [];
  if (!isPlainObject(doc)) throw new ConfigError(['(root): must be a mapping with a `providers` section']);
  for (const key of Object.keys(doc)) if (!SECTIONS.includes(key)) problems.push(`${key}: unknown section (allowed: ${SECTIONS.join(', ')})`);
  const metrics = metricsSection.safeParse(doc.metrics, { error: requiredMessage });
  if (!metrics.success) problems.push(...formatIssues('metrics', metrics.error.issues));
  const tracing = tracingSection.safeParse(doc.tracing, { error: requiredMessage });
  if (!tracing.success) problems.push(...formatIssues('tracing', tracing.error.issues));
  const server = serverSection.safeParse(doc.server, { error: requiredMessage });
  if (!server.success) problems.push(...formatIssues('server', server.error.issues));
  const limits = limitsSection.safeParse(doc.limits, { error: requiredMessage });
  if (!limits.success) problems.push(...formatIssues('limits', limits.error.issues));
  const section = doc.providers;
  if (!isPlainObject(section) || Object.keys(section).length === 0) {
    problems.push('providers: required (a mapping of at least one provider connection)');
    throw new ConfigError(problems);
  }

  const connections = new Map<string, ConnectionConfig>();
  const secrets: string[] = [];
  for (const [name, raw] of Object.entries(section)) {
    const at = `providers.${name}`;
    if (!PROVIDER_NAME.test(name)) {
      problems.push(`${at}: a provider name must start with a letter and hold only letters, digits, '_' or '-' (max 64)`);
      continue;
    }
    const common = connectionCommon.safeParse(raw, { error: requiredMessage });
    if (!common.success) {
      problems.push(...formatIssues(at, common.error.issues));
      continue;
    }
    const { kind, baseUrl, timeoutMs, deadlineMs, retry, maxConcurrency, circuitBreaker, rateLimit, cache } = common.data;
    let adapter: ProviderAdapter;
    let specificRaw = raw as Record<string, unknown>;
    if (kind === 'http') {
      // A vendor defined here: its definition becomes an adapter; only its values stay as settings.
      const { definition, values } = splitHttpConnection(specificRaw);
      try {
        ({ adapter, settings: specificRaw } = configuredAdapter(definition, values, at));
      } catch (err) {
        if (!(err instanceof DefinitionError)) throw err;
        problems.push(...err.problems);
        continue;
      }
    } else adapter = registry[kind].adapter as ProviderAdapter;
    const specific = connectionCommon.extend(adapter.configSchema.shape).strict().safeParse(specificRaw, { error: requiredMessage });
    if (!specific.success) {
      problems.push(...formatIssues(at, specific.error.issues));
      continue;
    }
    const {
      kind: _k0,
      baseUrl: _b0,
      timeoutMs: _t0,
      deadlineMs: _d0,
      retry: _r0,
      maxConcurrency: _m0,
      circuitBreaker: _c0,
      rateLimit: _l0,
      cache: _cache0,
      ...kindSettings
    } = specific.data as Record<string, unknown>;
    const url = baseUrl ?? adapter.defaultBaseUrlFor?.(kindSettings) ?? adapter.defaultBaseUrl;
    if (url === undefined) {
      problems.push(`${at}.baseUrl: required (${kind} has no default URL)`);
      continue;
    }
    const {
      kind: _k,
      timeoutMs: _t,
      deadlineMs: _d,
      retry: _r,
      maxConcurrency: _m,
      circuitBreaker: _c,
      rateLimit: _l,
      cache: _cache,
      ...settings
    } = specific.data as Record<string, unknown>;
    const crossField = adapter.checkConfig?.({ ...settings, baseUrl: url }) ?? [];
    if (crossField.length > 0) {
      problems.push(...crossField.map((p) => `${p.field ? `${at}.${p.field}` : at}: ${p.message}`));
      continue;
    }
    let rate: ConnectionConfig['rateLimit'];
    if (rateLimit === false) rate = false;
    else if (rateLimit === undefined) rate = adapter.defaultRateLimit ?? 'signals';
    else if (rateLimit.requests === undefined || rateLimit.perSeconds === undefined) {
      // `{ store }` alone: the vendor's documented budget, kept in that Redis.
      if (!adapter.defaultRateLimit) {
        problems.push(`${at}.rateLimit: requests and perSeconds are required (${kind} has no default budget to keep in the store)`);
        continue;
      }
      rate = { ...adapter.defaultRateLimit, store: rateLimit.store };
    } else {
      const { requests, perSeconds, burst, store } = rateLimit;
      // A bucket holds `requests` unless told.
      rate = { requests, perSeconds, burst: burst ?? requests, ...(store !== undefined && { store }) };
    }
    for (const field of adapter.secretConfigFields) {
      const value = settings[field];
      if (typeof value === 'string' && value.length > 0) secrets.push(value);
    }
    if (typeof rate === 'object' && rate.store !== undefined) pushUrlPassword(rate.store, secrets);
    connections.set(name, {
      name,
      kind,
      adapter,
      settings: { ...settings, baseUrl: url.replace(/\/+$/, '') },
      timeoutMs,
      deadlineMs: Math.max(deadlineMs, timeoutMs),
      retry,
      maxConcurrency,
      circuitBreaker,
      // Absent: the vendor's documented budget, if it publishes one, else its signals only.
      rateLimit: rate,
      ...(cache && { cache }),
    });
  }
  const auth = resolveAuth(doc.auth, connections, secrets, problems);
  const audit = resolveAudit(doc.audit, options.baseDir ?? process.cwd(), secrets, problems);
  if (problems.length || !metrics.success || !tracing.success || !server.success || !limits.success) throw new ConfigError(problems);
  return { providers: connections, secrets, metrics: metrics.data, tracing: tracing.data, auth, audit, server: server.data, limits: limits.data };
}

/** A `kind: http` connection: the definition fields, and the rest (common fields, params, credentials). */
function splitHttpConnection(raw: Record<string, unknown>): { definition: Record<string, unknown>; values: Record<string, unknown> } {
  const definition: Record<string, unknown> = {};
  const values: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) (HTTP_CONNECTION_FIELDS.includes(k) ? definition : values)[k] = v;
  return { definition, values };
}

/** `auth`: tokens kept as SHA-256 digests; every narrowed scope must name a configured provider. */
function resolveAuth(raw: unknown, connections: Map<string, ConnectionConfig>, secrets: string[], problems: string[]): AuthConfig | undefined {
  if (raw === undefined) return undefined;
  const parsed = authSection.safeParse(raw, { error: requiredMessage });
  if (!parsed.success) {
    problems.push(...formatIssues('auth', parsed.error.issues));
    return undefined;
  }
  const names = new Set<string>();
  const tokens: CallerTokenConfig[] = parsed.data.tokens.map((t, i) => {
    const at = `auth.tokens.${i}`;
    if (names.has(t.name)) problems.push(`${at}.name: "${t.name}" is used by another token`);
    names.add(t.name);
    const scopes = t.scopes.map((text, j) => {
      const scope = parseScope(text)!;
      if (scope.provider !== '*' && !connections.has(scope.provider))
        problems.push(`${at}.scopes.${j}: provider "${scope.provider}" is not configured (configured: ${[...connections.keys()].join(', ')})`);
      return scope;
    });
    if (t.token !== undefined) secrets.push(t.token);
    return { name: t.name, sha256: t.token !== undefined ? sha256(t.token) : Buffer.from(t.sha256!, 'hex'), scopes };
  });
  return { tokens, ...(parsed.data.jwt && { jwt: parsed.data.jwt }) };
}

/** `audit`: absent means SQLite beside the config; `false` turns it off. */
function resolveAudit(raw: unknown, baseDir: string, secrets: string[], problems: string[]): AuditConfig {
  if (raw === false) return { store: 'off' };
  const parsed = auditSection.safeParse(raw ?? {}, { error: requiredMessage });
  if (!parsed.success) {
    problems.push(...formatIssues('audit', parsed.error.issues));
    return { store: 'off' };
  }
  const { sqlite, postgres, schema, synchronous } = parsed.data;
  if (postgres !== undefined) {
    if (!pushUrlPassword(postgres, secrets)) problems.push('audit.postgres: must be a valid URL');
    return { store: 'postgres', url: postgres, schema: schema ?? 'keygate' };
  }
  return { store: 'sqlite', path: resolvePath(baseDir, sqlite ?? DEFAULT_AUDIT_FILE), synchronous: synchronous ?? 'normal' };
}

function requiredMessage(issue: { code?: string; input?: unknown }): string | undefined {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'required';
  return undefined;
}

function formatIssues(at: string, issues: z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') return `${at}: unknown field(s) ${issue.keys.join(', ')}`;
    const path = issue.path.length ? `${at}.${issue.path.join('.')}` : at;
    return `${path}: ${issue.message}`;
  });
}

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && !u.username && !u.password && !u.search && !u.hash;
  } catch {
    return false;
  }
}

/** `redis://[user:password@]host[:port][/db]` or `rediss://…`: what `rateLimit.store` accepts. */
function isRedisUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '' && /^(\/\d{1,4})?\/?$/.test(u.pathname) && !u.search && !u.hash;
  } catch {
    return false;
  }
}

/** A URL's password (and so the URL) is a credential: both join `secrets`. False when it is no URL. */
function pushUrlPassword(url: string, secrets: string[]): boolean {
  try {
    const password = new URL(url).password;
    if (password) secrets.push(decodeURIComponent(password), url);
    return true;
  } catch {
    return false;
  }
}

function isOrigin(value: string): boolean {
  try {
    const u = new URL(value);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === value;
  } catch {
    return false;
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

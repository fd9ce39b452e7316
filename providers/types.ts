/**
 * The adapter contract: what one vendor must provide so that keygate can update its API keys.
 *
 * An adapter is data in, data out. It builds the upstream request, normalises the vendor's answer
 * and reads the vendor's error body; it never does I/O. HTTP, auth handshakes, timeouts, logging
 * and the client-visible error shape are shared (src/upstream/, src/core/errors.ts).
 */
import type { z } from 'zod';

/** The vendors keygate ships (providers/index.ts). */
export type BuiltinKind = 'mesa' | 'basic' | 'atlas' | 'tyk' | 'plumaa' | 'sendgrid' | 'datadog' | 'confluent' | 'cloudflare' | 'algolia';
/** A connection's kind: a built-in vendor, or `http`, a vendor defined in the config file (providers/http/). */
export type ProviderKind = BuiltinKind | 'http';

/** The closed set of error codes clients see (src/core/errors.ts builds them). */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNSUPPORTED_FIELD'
  | 'UNKNOWN_PROVIDER'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'RATE_LIMITED'
  | 'UPSTREAM_ERROR'
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_BAD_RESPONSE'
  | 'UNSUPPORTED_OPERATION'
  /** The audit store cannot record: the mutation is refused before anything is sent upstream. */
  | 'AUDIT_UNAVAILABLE';

export interface TagInput {
  key: string;
  value?: string | null;
}

/** The vendor-neutral patch a client sends (GraphQL `ApiKeyPatch`). Absent means "leave alone". */
export interface ApiKeyPatch {
  name?: string | null;
  enabled?: boolean | null;
  roles?: string[] | null;
  setTags?: TagInput[] | null;
  removeTags?: string[] | null;
  expiresAt?: Date | null;
  /** Tyk SessionState fields, already in Tyk's wire names (snake_case). */
  tyk?: Record<string, unknown> | null;
  /** Cloudflare token fields in wire names: `policies`, `condition`, `not_before`. */
  cloudflare?: Record<string, unknown> | null;
  /** Confluent Cloud API key fields in wire names: `description`. */
  confluent?: Record<string, unknown> | null;
  /** Algolia key fields in wire names: `indexes`, `referers`, `validity`, `maxHitsPerQuery`, … */
  algolia?: Record<string, unknown> | null;
}

export type PatchField = keyof ApiKeyPatch;

/** The patch fields that hold one vendor's own fields (wire names), each a GraphQL input of its own (`patchInput`). */
export const VENDOR_PATCH_FIELDS = ['tyk', 'cloudflare', 'confluent', 'algolia'] as const satisfies readonly PatchField[];

/** The vendor-neutral view of a key (GraphQL `ApiKey` without provider/kind). */
export interface NormalizedKey {
  id: string;
  name: string | null;
  enabled: boolean | null;
  roles: string[] | null;
  tags: { key: string; value: string | null }[] | null;
  expiresAt: Date | null;
  updatedAt: Date | null;
  /** The vendor body the key came from; secrets are redacted by the gateway before it leaves. */
  raw: unknown;
}

/** How the shared HTTP client authenticates to a vendor. Values are credentials: never log them. */
export type UpstreamAuth =
  | { type: 'bearer'; token: string }
  | { type: 'header'; name: string; value: string }
  | { type: 'digest'; username: string; password: string }
  | { type: 'basic'; username: string; password: string }
  /** Fixed headers, every value a credential (Datadog's two keys, Algolia's app id and key). */
  | { type: 'headers'; headers: Record<string, string> }
  /**
   * OAuth 2.0 client credentials (Atlas service accounts): a token from `tokenUrl` (HTTP Basic
   * clientId:clientSecret, `grant_type=client_credentials`) sent as `Authorization: Bearer`.
   */
  | { type: 'oauth-client-credentials'; tokenUrl: string; clientId: string; clientSecret: string };

/** One upstream call, relative to the connection's baseUrl. `path` segments are already encoded. */
export interface UpstreamRequest {
  method: 'GET' | 'PATCH' | 'PUT' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** Headers the vendor's API version needs (Atlas v2: a versioned Accept and Content-Type); never credentials. */
  headers?: Record<string, string>;
}

/** What the shared client hands back to an adapter: the body read once, parsed when it is JSON. */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  json: unknown;
  text: string;
  /** Set when the answer came from the OAuth token endpoint, not from the API itself. */
  tokenEndpoint?: boolean;
}

/** What an adapter reads from a vendor error body. The gateway fills the rest from the status. */
export interface VendorError {
  /** Set when the body decides the code (Atlas 400 API_KEY_NOT_FOUND is NOT_FOUND). */
  code?: ErrorCode;
  /** The vendor's machine code (Mesa error.code, Atlas errorCode, SOFA extensions.code). */
  vendorCode?: string;
  message?: string;
  traceId?: string;
  /** Seconds to wait, when the vendor says so in its own header or body rather than `Retry-After`. */
  retryAfter?: number;
  /** Per-field problems the vendor listed (Atlas v2 `badRequestDetail.fields`). */
  fields?: { field: string; description: string }[];
}

/** A problem with the client's input, found before anything is sent. */
export interface FieldProblem {
  /** Path inside the patch, e.g. `setTags[0].key`. */
  field: string;
  message: string;
}

/** A scalar an adapter's GraphQL input field may have (DateTime arrives as a Date, JSON as parsed JSON). */
export type InputScalar = 'Boolean' | 'Int' | 'Float' | 'String' | 'JSON' | 'DateTime';

/** One field of a declared input type; nullable unless `required`, list items never null. */
export interface InputFieldSpec {
  /** A scalar, or another input type of the same declaration by name. */
  type: InputScalar | { input: string };
  list?: true;
  required?: true;
  description: string;
}

/** A GraphQL input type declared as data (src/graphql/vendor-inputs.ts builds it; field order is kept). */
export interface InputTypeSpec {
  name: string;
  description: string;
  fields: Readonly<Record<string, InputFieldSpec>>;
}

/** Patch fields that hold one vendor's own fields under its wire names. */
export type VendorPatchField = (typeof VENDOR_PATCH_FIELDS)[number];

/** A vendor's own part of the patch: `ApiKeyPatch.<field>` in GraphQL, and how it becomes wire fields. */
export interface PatchInputSpec {
  field: VendorPatchField;
  /** The description of `ApiKeyPatch.<field>`. */
  description: string;
  /** Every input type, in the order the schema lists them; `root` names the one `ApiKeyPatch.<field>` takes. */
  types: readonly InputTypeSpec[];
  root: string;
  /** The client's input (as GraphQL parsed it) as wire fields; throws PatchInputError for input the vendor cannot take. */
  toWire(input: Record<string, unknown>): Record<string, unknown>;
}

/** Input a vendor's own patch input cannot take; the gateway answers BAD_USER_INPUT naming the fields. */
export class PatchInputError extends Error {
  override readonly name = 'PatchInputError';
  readonly problems: readonly FieldProblem[];
  constructor(problems: readonly FieldProblem[]) {
    super(problems.map((p) => `patch.${p.field} ${p.message}`).join('; '));
    this.problems = problems;
  }
}

/**
 * A vendor's documented rate-limit headers (src/upstream/rate-limit-headers.ts reads them; the pacer
 * pauses the connection on them). `fields`: one header holds the requests left in the window and,
 * optionally, another when it resets, as seconds from now (`seconds`) or a Unix time in seconds
 * (`epochSeconds`). `structured`: one header in the IETF draft's form `"policy";r=<left>;t=<seconds>`.
 */
export type RateLimitHeaders =
  | { format: 'fields'; remaining: string; reset?: string; resetUnit?: 'seconds' | 'epochSeconds' }
  | { format: 'structured'; header: string };

/** Whether sending an update twice leaves the key as sending it once, and why (or why not). */
export interface UpdateIdempotency {
  idempotent: boolean;
  /** One line: what the update call does that makes it so. */
  why: string;
}

export interface ProviderAdapter<Cfg extends { baseUrl: string } = { baseUrl: string }> {
  readonly kind: ProviderKind;
  /** The vendor's production URL from its seed; undefined when it has none (self-hosted Tyk). */
  readonly defaultBaseUrl?: string;
  /** The production URL when it depends on the config (Datadog `site`, Algolia `applicationId`). */
  defaultBaseUrlFor?(cfg: Record<string, unknown>): string | undefined;
  /** The kind-specific config fields (credentials, org ids), validated at start-up. */
  readonly configSchema: z.ZodObject<{ [K in Exclude<keyof Cfg, 'baseUrl'>]: z.ZodType<Cfg[K]> }>;
  /** Config fields whose values are credentials: redacted everywhere (dot-separated, `*` for any key). */
  readonly secretConfigFields: readonly string[];
  /** Patch fields this vendor can change; anything else is UNSUPPORTED_FIELD. */
  readonly patchFields: readonly PatchField[];
  /** JSON paths (dot-separated, `*` for any key) of secret fields in vendor bodies. */
  readonly secretBodyFields: readonly string[];
  /**
   * Whether an update whose outcome is unknown (a timeout, a reset, a 502/503/504) may be sent again
   * (src/upstream/resilience.ts); reads are always repeated.
   */
  readonly updateIdempotency: UpdateIdempotency;
  /** The vendor's documented rate limit of its key endpoints as a token bucket; absent where it publishes none. */
  readonly defaultRateLimit?: { requests: number; perSeconds: number; burst: number };
  /** How the vendor's answers report its rate limit, where it documents that; absent: only `Retry-After` on 429 is read. */
  readonly rateLimitHeaders?: RateLimitHeaders;
  /** The vendor's own GraphQL patch input, declared as data (Tyk's SessionState fields; the engine's vendors from their definitions). */
  readonly patchInput?: PatchInputSpec;

  auth(cfg: Cfg): UpstreamAuth;
  /** Problems across config fields (two credential sets, a credential not matching `api`); `field` is the config field. */
  checkConfig?(cfg: Cfg): FieldProblem[];
  /**
   * Whether a key id is itself a live credential (Tyk, unless it addresses keys by hash): then
   * keygate keeps only its fingerprint in logs, audit rows, spans and metrics.
   */
  idIsSecret?(cfg: Cfg): boolean;
  /** Vendor limits checked locally (Atlas desc 1..250, Mesa tag key <= 64). */
  validate(patch: ApiKeyPatch): FieldProblem[];
  /**
   * Tyk: the vendor's write replaces the whole object, so an update first reads the key
   * (`readKey`) and `buildUpdate` receives `parseCurrent` of that answer as `current`.
   */
  readonly readBeforeWrite?: boolean | ((patch: ApiKeyPatch) => boolean);
  /** Turns a `readKey` answer into the `current` value; undefined = not as documented. The parsers get the connection config (absent in unit tests: the defaults). */
  parseCurrent?(body: unknown, cfg?: Cfg): unknown;
  buildUpdate(cfg: Cfg, id: string, patch: ApiKeyPatch, current?: unknown): UpstreamRequest;
  /**
   * The vendor's 2xx answer as a key; undefined when the body is not what the vendor documents.
   * `sent` is the request that produced it (Tyk answers only a status line, so the key is what we sent).
   */
  normalize(body: unknown, id: string, sent: UpstreamRequest, cfg?: Cfg): NormalizedKey | undefined;
  mapError(res: UpstreamResponse, cfg?: Cfg): VendorError;

  /** Reading one key with one call (basic, atlas, tyk). Not found = the vendor's NOT_FOUND answer. */
  readKey?(cfg: Cfg, id: string): UpstreamRequest;
  /** The key in a `readKey` answer; undefined when the body is not what the vendor documents. */
  parseKey?(body: unknown, id: string, cfg?: Cfg): NormalizedKey | undefined;
  /** Mesa has no single-key read: keys are found by walking the list (`listPage`). */
  readonly readByListing?: boolean;
  /** One page of the vendor's key list; `page` is the token from the previous page (undefined: the first). */
  listPage?(cfg: Cfg, page: string | undefined): UpstreamRequest;
  /** The keys of a list page and the next page's token (undefined: last page); undefined when not as documented. */
  parseListPage?(body: unknown, page: string | undefined, cfg?: Cfg): { keys: NormalizedKey[]; next: string | undefined } | undefined;
}

/** Whether an update with this patch reads the key first (readBeforeWrite). */
export function readsBeforeWrite(adapter: ProviderAdapter, patch: ApiKeyPatch): boolean {
  const rbw = adapter.readBeforeWrite;
  return typeof rbw === 'function' ? rbw(patch) : rbw === true;
}

/** The operations a provider offers, derived from its adapter (GraphQL `Provider.operations`). */
export function operationsOf(adapter: ProviderAdapter): string[] {
  const ops: string[] = [];
  if (adapter.readKey || adapter.readByListing) ops.push('read');
  if (adapter.listPage) ops.push('list');
  ops.push('update', 'preview');
  return ops;
}

/** A vendor's date-time string as a Date; null when absent or unparseable. */
export function toDate(value: unknown): Date | null {
  if (typeof value !== 'string' || value === '') return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Encodes one id into a path segment. Ids are validated first (src/core/validate.ts). */
export function pathSegment(id: string): string {
  return encodeURIComponent(id);
}

/** A running simulator, as the sandbox and the tests see it. */
export interface RunningSimulator {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** The URL to configure as the connection's `baseUrl`. */
  baseUrl: string;
  requests: import('../sandbox/simulator-kit.ts').RecordedRequest[];
  writes(): import('../sandbox/simulator-kit.ts').RecordedRequest[];
  maxInFlight(): number;
  /** Connections open now / the most open at once since the last reset. */
  openSockets(): number;
  maxSockets(): number;
  inject(fault: import('../sandbox/simulator-kit.ts').Fault): void;
  reset(): void;
  close(): Promise<void>;
}

/** What a provider folder hands the sandbox: a simulator seeded with demo keys, and how to reach it. */
export interface Sandbox {
  simulator: RunningSimulator;
  /** The connection config (without `kind`) that points at the simulator. */
  connection: Record<string, unknown>;
  demoKeyIds: string[];
  /** One ready-to-paste example mutation for a provider named `name`. */
  exampleMutation(name: string): string;
}

/** One entry of the registry in providers/index.ts. */
export interface ProviderModule {
  // biome-ignore lint: the registry holds adapters of different config types
  adapter: ProviderAdapter<any>;
  startSandbox(port?: number): Promise<Sandbox>;
}

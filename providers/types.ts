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

/** The patch fields that hold one vendor's own fields (wire names), each a GraphQL input of its own. */
export const VENDOR_PATCH_FIELDS = ['tyk', 'cloudflare', 'confluent', 'algolia'] as const satisfies readonly PatchField[];

/** The GraphQL type of one vendor patch field: `strings` is a list of strings, `json` any JSON. */
export type VendorPatchType = 'string' | 'integer' | 'number' | 'boolean' | 'date' | 'strings' | 'json';

/** A vendor's own patch object as GraphQL shows it (`ApiKeyPatch.<field>`, input `<Field>Patch`). */
export interface VendorPatchSpec {
  field: Exclude<(typeof VENDOR_PATCH_FIELDS)[number], 'tyk'>;
  description: string;
  /** GraphQL field name -> its type and the vendor's wire name (what `ApiKeyPatch.<field>` holds). */
  fields: Record<string, { type: VendorPatchType; wire: string; description?: string }>;
}

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
  | { type: 'headers'; headers: Record<string, string> };

/** One upstream call, relative to the connection's baseUrl. `path` segments are already encoded. */
export interface UpstreamRequest {
  method: 'GET' | 'PATCH' | 'PUT' | 'POST';
  path: string;
  query?: Record<string, string>;
  body?: unknown;
}

/** What the shared client hands back to an adapter: the body read once, parsed when it is JSON. */
export interface UpstreamResponse {
  status: number;
  headers: Headers;
  /** Parsed JSON, or undefined when the body was empty or not JSON. */
  json: unknown;
  text: string;
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
}

/** A problem with the client's input, found before anything is sent. */
export interface FieldProblem {
  /** Path inside the patch, e.g. `setTags[0].key`. */
  field: string;
  message: string;
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
  /** This vendor's own patch object (GraphQL input built from it); Tyk's is hand-written (src/graphql/). */
  readonly vendorPatch?: VendorPatchSpec;
  /** JSON paths (dot-separated, `*` for any key) of secret fields in vendor bodies. */
  readonly secretBodyFields: readonly string[];

  auth(cfg: Cfg): UpstreamAuth;
  /** Vendor limits checked locally (Atlas desc 1..250, Mesa tag key <= 64). */
  validate(patch: ApiKeyPatch): FieldProblem[];
  /**
   * Tyk: the vendor's write replaces the whole object, so an update first reads the key
   * (`readKey`) and `buildUpdate` receives `parseCurrent` of that answer as `current`.
   */
  readonly readBeforeWrite?: boolean | ((patch: ApiKeyPatch) => boolean);
  /** False when repeating the update could change more than sending it once: never retried. Default true. */
  readonly idempotent?: boolean;
  /** The key id is itself a credential (Algolia: the id is the key): fingerprinted wherever keygate keeps it. */
  readonly idIsSecret?: boolean;
  /** Turns a `readKey` answer into the `current` value; undefined = not as documented. */
  parseCurrent?(body: unknown): unknown;
  buildUpdate(cfg: Cfg, id: string, patch: ApiKeyPatch, current?: unknown): UpstreamRequest;
  /**
   * The vendor's 2xx answer as a key; undefined when the body is not what the vendor documents.
   * `sent` is the request that produced it (Tyk answers only a status line, so the key is what we sent).
   */
  normalize(body: unknown, id: string, sent: UpstreamRequest): NormalizedKey | undefined;
  mapError(res: UpstreamResponse): VendorError;

  /** Reading one key with one call (basic, atlas, tyk). Not found = the vendor's NOT_FOUND answer. */
  readKey?(cfg: Cfg, id: string): UpstreamRequest;
  /** The key in a `readKey` answer; undefined when the body is not what the vendor documents. */
  parseKey?(body: unknown, id: string): NormalizedKey | undefined;
  /** Mesa has no single-key read: keys are found by walking the list (`listPage`). */
  readonly readByListing?: boolean;
  /** One page of the vendor's key list; `page` is the token from the previous page (undefined: the first). */
  listPage?(cfg: Cfg, page: string | undefined): UpstreamRequest;
  /** The keys of a list page and the next page's token (undefined: last page); undefined when not as documented. */
  parseListPage?(body: unknown, page: string | undefined): { keys: NormalizedKey[]; next: string | undefined } | undefined;
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

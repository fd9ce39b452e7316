/**
 * The declarative engine: a vendor described as data (requests, mappings, error table, limits)
 * becomes a ProviderAdapter. `kind: http` connections are built from the config file with it, and
 * the built-in SendGrid, Datadog, Confluent, Cloudflare and Algolia adapters are definitions on it.
 * The definition is validated and every template compiled once; a problem names its path
 * (`providers.acme.update.body.name: …`). Reference: docs/adding-a-vendor-in-config.md.
 */
import { z } from 'zod';
import type { InputFieldSpec, PatchInputSpec, UpdateIdempotency } from '../types.ts';
import type {
  ApiKeyPatch,
  ErrorCode,
  FieldProblem,
  NormalizedKey,
  PatchField,
  ProviderAdapter,
  ProviderKind,
  UpstreamAuth,
  UpstreamRequest,
  VendorError,
} from '../types.ts';
import { compileExpression, compileTemplate, isRecord, TemplateProblems, toDateValue, type Compiled, type Scope } from './template.ts';

export const ERROR_CODES = [
  'BAD_USER_INPUT',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'CONFLICT',
  'RATE_LIMITED',
  'UPSTREAM_ERROR',
  'UPSTREAM_UNAVAILABLE',
] as const satisfies readonly ErrorCode[];

/** Patch fields every vendor shape can map; the vendor objects (`cloudflare`, …) belong to built-ins. */
export const GENERIC_PATCH_FIELDS = ['name', 'enabled', 'roles', 'setTags', 'removeTags', 'expiresAt'] as const satisfies readonly PatchField[];
const ALL_PATCH_FIELDS = [...GENERIC_PATCH_FIELDS, 'tyk', 'cloudflare', 'confluent', 'algolia'] as const satisfies readonly PatchField[];

const condition = z
  .object({
    set: z.array(z.enum(ALL_PATCH_FIELDS)).optional(),
    unset: z.array(z.enum(ALL_PATCH_FIELDS)).optional(),
    configSet: z.array(z.string()).optional(),
    configUnset: z.array(z.string()).optional(),
  })
  .strict();
type Condition = z.infer<typeof condition>;

const path = z.string().startsWith('/', 'must start with "/"');
const query = z.record(z.string(), z.unknown()).optional();
const readRequest = z.object({ when: condition.optional(), path, query }).strict();
const updateRequest = z.object({ when: condition.optional(), method: z.enum(['PATCH', 'PUT', 'POST']), path, query, body: z.unknown().optional() }).strict();

const pagination = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z
    .object({
      type: z.literal('page'),
      param: z.string().min(1),
      start: z.number().int().min(0).default(1),
      sizeParam: z.string().min(1).optional(),
      size: z.number().int().min(1).max(1000).optional(),
    })
    .strict(),
  z.object({ type: z.literal('cursor'), param: z.string().min(1), next: z.string().min(1) }).strict(),
  z.object({ type: z.literal('nextLink'), next: z.string().min(1) }).strict(),
]);

const limits = z
  .object({
    type: z.enum(['string', 'number', 'integer', 'boolean', 'array', 'object', 'date']).optional(),
    minLength: z.number().int().min(0).optional(),
    maxLength: z.number().int().min(1).optional(),
    pattern: z.string().optional(),
    allowed: z.array(z.string()).min(1).optional(),
    minItems: z.number().int().min(0).optional(),
    maxItems: z.number().int().min(1).optional(),
    min: z.number().optional(),
    max: z.number().optional(),
  })
  .strict();
type Limits = z.infer<typeof limits>;
/** A field of a vendor patch object: its limits, GraphQL name (default: the wire name), list item type. */
const objectField = limits
  .extend({
    graphqlName: z
      .string()
      .regex(/^[A-Za-z_]\w*$/)
      .optional(),
    items: z.literal('string').optional(),
    description: z.string().optional(),
  })
  .strict();
const fieldSpec = limits.extend({ fields: z.record(z.string(), objectField).optional(), description: z.string().optional() }).strict();
type FieldSpec = z.infer<typeof fieldSpec>;

const headerName = z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, 'must be an HTTP header name');
const auth = z.discriminatedUnion('type', [
  z.object({ type: z.literal('none') }).strict(),
  z.object({ type: z.literal('bearer'), token: z.string().min(1) }).strict(),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: z.string().min(1) }).strict(),
  z.object({ type: z.literal('digest'), username: z.string().min(1), password: z.string().min(1) }).strict(),
  /** OAuth 2.0 client credentials: a token from `tokenUrl` (absolute; a template over config), sent as Bearer. */
  z.object({ type: z.literal('oauth-client-credentials'), tokenUrl: z.string().min(1), clientId: z.string().min(1), clientSecret: z.string().min(1) }).strict(),
  z.object({ type: z.literal('headers'), headers: z.record(headerName, z.string()) }).strict(),
]);

/** The vendor's documented rate-limit headers (ProviderAdapter.rateLimitHeaders). */
const rateLimitHeaders = z.discriminatedUnion(
  'format',
  [
    z
      .object({ format: z.literal('fields'), remaining: headerName, reset: headerName.optional(), resetUnit: z.enum(['seconds', 'epochSeconds']).optional() })
      .strict()
      .refine((h) => (h.reset === undefined) === (h.resetUnit === undefined), {
        path: ['resetUnit'],
        message: 'goes with reset, and reset with it: seconds (from now) or epochSeconds (a Unix time)',
      }),
    z.object({ format: z.literal('structured'), header: headerName }).strict(),
  ],
  { error: 'must be fields (remaining, reset, resetUnit) or structured (header: a "policy";r=…;t=… field)' },
);

/** The declarative part of a provider: everything but its config fields. */
export const httpDefinitionSchema = z
  .object({
    /** Default base URL, a template over `config` (Datadog's site, Algolia's application id). */
    baseUrl: z.string().optional(),
    auth: auth.default({ type: 'none' }),
    update: z.union([updateRequest, z.array(updateRequest).min(1)]),
    readBeforeWrite: z.union([z.boolean(), condition]).default(false),
    idempotent: z.boolean().optional(),
    read: z.union([readRequest, z.array(readRequest).min(1)]).optional(),
    /** Where the key is in a read answer (expression over body, id). Default: the body. */
    readKey: z.string().optional(),
    list: z
      .object({
        path: path.optional(),
        query,
        /** Instead of path/query: requests picked by `when` on config (Cloudflare's account or user tokens). */
        requests: z.array(readRequest).min(1).optional(),
        items: z.string().min(1),
        pagination: pagination.default({ type: 'none' }),
      })
      .strict()
      .refine((l) => (l.path === undefined) !== (l.requests === undefined), 'needs exactly one of path or requests')
      .optional(),
    /** Where the key is in an update answer (over body, sent, id). Default: the body. */
    updateKey: z.string().optional(),
    /** An expression over the update answer's body that must be present, else UPSTREAM_BAD_RESPONSE (with `updateKey: sent`). */
    updateCheck: z.string().optional(),
    key: z
      .object({
        id: z.unknown(),
        name: z.unknown().optional(),
        enabled: z.unknown().optional(),
        roles: z.unknown().optional(),
        tags: z.unknown().optional(),
        expiresAt: z.unknown().optional(),
        updatedAt: z.unknown().optional(),
      })
      .strict(),
    errors: z
      .object({
        items: z.string().optional(),
        code: z.string().optional(),
        message: z.string().optional(),
        field: z.string().optional(),
        traceId: z.string().optional(),
        retryAfter: z.string().optional(),
        codes: z.record(z.string(), z.enum(ERROR_CODES)).default({}),
        statuses: z.record(z.string().regex(/^[45]\d\d$/, 'must be an HTTP status 400..599'), z.enum(ERROR_CODES)).default({}),
      })
      .strict()
      .default({ codes: {}, statuses: {} }),
    secretBodyFields: z.array(z.string().min(1)).default([]),
    idIsSecret: z.boolean().default(false),
    rateLimitHeaders: rateLimitHeaders.optional(),
    patch: z.partialRecord(z.enum(ALL_PATCH_FIELDS), fieldSpec).refine((p) => Object.keys(p).length > 0, 'must list at least one patch field'),
  })
  .strict();
export type HttpDefinition = z.input<typeof httpDefinitionSchema>;

export interface EngineOptions<Cfg> {
  kind: ProviderKind;
  /** The config fields (besides baseUrl) and which hold credentials. */
  configSchema: ProviderAdapter<Cfg & { baseUrl: string }>['configSchema'];
  secretConfigFields: readonly string[];
  /** Where the definition sits, for messages: `providers.acme`, or the built-in's kind. */
  at: string;
  /** Parts written as code (a vendor the definition cannot express fully). */
  overrides?: Partial<ProviderAdapter<Cfg & { baseUrl: string }>>;
  /** Patch fields the definition may list (`kind: http`: the generic ones). */
  allowedPatchFields?: readonly PatchField[];
}

export class DefinitionError extends Error {
  override readonly name = 'DefinitionError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid provider definition:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

interface CompiledRequest {
  when?: Condition;
  method: UpstreamRequest['method'];
  path: Compiled;
  query?: Compiled;
  body?: Compiled;
}

const PATCH_ROOTS = ['patch', 'id', 'config', 'current'];
const KEY_ROOTS = ['key', 'id', 'body', 'sent'];
const ERROR_ROOTS = ['error', 'body', 'headers', 'status'];

/** Builds the adapter, or throws DefinitionError listing every problem with its path. */
export function httpAdapter<Cfg extends Record<string, unknown>>(raw: unknown, options: EngineOptions<Cfg>): ProviderAdapter<Cfg & { baseUrl: string }> {
  const { at } = options;
  const parsed = httpDefinitionSchema.safeParse(raw);
  if (!parsed.success) throw new DefinitionError(parsed.error.issues.map((i) => issueText(at, i)));
  const def = parsed.data;
  const problems = new TemplateProblems();

  const allowed = options.allowedPatchFields ?? ALL_PATCH_FIELDS;
  const patchFields = Object.keys(def.patch) as PatchField[];
  for (const f of patchFields) if (!allowed.includes(f)) problems.add(`${at}.patch.${f}`, `is not a patch field here (allowed: ${allowed.join(', ')})`);
  for (const [f, spec] of Object.entries(def.patch)) {
    if (spec.pattern !== undefined) compilePattern(spec.pattern, `${at}.patch.${f}.pattern`, problems);
    for (const [sub, l] of Object.entries(spec.fields ?? {}))
      if (l.pattern !== undefined) compilePattern(l.pattern, `${at}.patch.${f}.fields.${sub}.pattern`, problems);
  }

  const compileRequest = (r: z.infer<typeof updateRequest> | z.infer<typeof readRequest>, where: string, roots: string[]): CompiledRequest => ({
    when: r.when,
    method: 'method' in r ? r.method : 'GET',
    path: compilePath(r.path, `${where}.path`, roots, problems),
    query: r.query && compileTemplate(r.query, `${where}.query`, roots, problems),
    body: 'body' in r && r.body !== undefined ? compileTemplate(r.body, `${where}.body`, roots, problems) : undefined,
  });
  const variants = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);
  const updates = variants(def.update).map((r, i) => compileRequest(r, Array.isArray(def.update) ? `${at}.update.${i}` : `${at}.update`, PATCH_ROOTS));
  if (updates.at(-1)?.when?.set || updates.at(-1)?.when?.unset)
    problems.add(`${at}.update`, 'the last update request must not depend on the patch (`when.set`/`when.unset`): some patch would match none');
  const reads = def.read && variants(def.read).map((r, i) => compileRequest(r, Array.isArray(def.read) ? `${at}.read.${i}` : `${at}.read`, ['id', 'config']));
  const listRequests =
    def.list &&
    (def.list.requests
      ? def.list.requests.map((r, i) => compileRequest(r, `${at}.list.requests.${i}`, ['config']))
      : [compileRequest({ path: def.list.path!, query: def.list.query }, `${at}.list`, ['config'])]);
  const list = def.list && listRequests && { requests: listRequests, items: compileExpression(def.list.items, `${at}.list.items`, ['body'], problems) };
  const pagination = def.list?.pagination;
  const listNext =
    pagination && (pagination.type === 'cursor' || pagination.type === 'nextLink')
      ? compileExpression(pagination.next, `${at}.list.pagination.next`, ['body'], problems)
      : undefined;
  const readKey = compileExpression(def.readKey ?? 'body', `${at}.readKey`, ['body', 'id'], problems);
  const updateKey = compileExpression(def.updateKey ?? 'body', `${at}.updateKey`, ['body', 'sent', 'id'], problems);
  const updateCheck = def.updateCheck !== undefined ? compileExpression(def.updateCheck, `${at}.updateCheck`, ['body'], problems) : undefined;
  const keyMap = Object.fromEntries(
    Object.entries(def.key).map(([f, t]) => [f, t === undefined ? undefined : compileTemplate(t, `${at}.key.${f}`, KEY_ROOTS, problems)]),
  ) as Record<keyof typeof def.key, Compiled | undefined>;
  const err = def.errors;
  const errExpr = (f: 'code' | 'message' | 'field' | 'traceId' | 'retryAfter') =>
    err[f] !== undefined ? compileExpression(err[f], `${at}.errors.${f}`, ERROR_ROOTS, problems) : undefined;
  const errItems = err.items !== undefined ? compileExpression(err.items, `${at}.errors.items`, ['body'], problems) : undefined;
  const [errCode, errMessage, errField, errTrace, errRetry] = (['code', 'message', 'field', 'traceId', 'retryAfter'] as const).map(errExpr);
  const authSpec = def.auth;
  const authTemplates = compileTemplate(authSpec, `${at}.auth`, ['config'], problems);
  const baseUrl = def.baseUrl !== undefined ? compileTemplate(def.baseUrl, `${at}.baseUrl`, ['config'], problems) : undefined;
  const rbw = def.readBeforeWrite;
  if (rbw !== false && !reads) problems.add(`${at}.readBeforeWrite`, 'needs a `read` request (the key is read before each write)');
  if (problems.list.length) throw new DefinitionError(problems.list);

  const pick = <T extends { when?: Condition }>(list: T[], cfg: Record<string, unknown>, patch?: ApiKeyPatch): T =>
    list.find((r) => matches(r.when, cfg, patch)) ?? list.at(-1)!;
  const build = (r: CompiledRequest, scope: Scope): UpstreamRequest => {
    const q = r.query?.evaluate(scope);
    const body = r.body?.evaluate(scope);
    return {
      method: r.method,
      path: r.path.evaluate(scope) as string,
      ...(isRecord(q) && Object.keys(q).length > 0 && { query: stringValues(q) }),
      ...(body !== undefined && { body: jsonSafe(body) }),
    };
  };

  const toKey = (scope: Scope, fallbackId: string): NormalizedKey | undefined => {
    const v = (f: keyof typeof keyMap) => keyMap[f]?.evaluate(scope);
    const id = v('id') ?? fallbackId;
    if (typeof id !== 'string' && typeof id !== 'number') return undefined;
    const name = v('name');
    const enabled = v('enabled');
    const roles = v('roles');
    const tags = v('tags');
    return {
      id: String(id),
      name: typeof name === 'string' ? name : null,
      enabled: typeof enabled === 'boolean' ? enabled : null,
      roles: Array.isArray(roles) ? roles.map(String) : null,
      tags: toTags(tags),
      expiresAt: toDateValue(v('expiresAt')) ?? null,
      updatedAt: toDateValue(v('updatedAt')) ?? null,
      raw: scope.key,
    };
  };

  const adapter: ProviderAdapter<Cfg & { baseUrl: string }> = {
    kind: options.kind,
    ...(def.baseUrl !== undefined && !def.baseUrl.includes('{{') && { defaultBaseUrl: def.baseUrl }),
    ...(baseUrl && {
      defaultBaseUrlFor: (cfg: Record<string, unknown>) => {
        const url = baseUrl.evaluate({ config: cfg });
        return typeof url === 'string' ? url : undefined;
      },
    }),
    configSchema: options.configSchema,
    secretConfigFields: options.secretConfigFields,
    patchFields,
    secretBodyFields: def.secretBodyFields,
    ...patchInputOf(def.patch as Record<PatchField, FieldSpec>),
    ...(def.idIsSecret && { idIsSecret: () => true }),
    ...(def.rateLimitHeaders && { rateLimitHeaders: def.rateLimitHeaders }),
    updateIdempotency: idempotencyOf(def.idempotent, variants(def.update)),

    auth(cfg) {
      const a = authTemplates.evaluate({ config: cfg }) as Record<string, unknown>;
      return toUpstreamAuth(a);
    },

    checkConfig(cfg) {
      const a = authTemplates.evaluate({ config: cfg }) as Record<string, unknown>;
      if (a.type !== 'oauth-client-credentials') return [];
      const url = URL.parse(String(a.tokenUrl ?? ''));
      return url && (url.protocol === 'https:' || url.protocol === 'http:') ? [] : [{ field: 'auth.tokenUrl', message: 'must be an absolute http(s) URL' }];
    },

    validate: (patch) => validatePatch(patch, def.patch as Record<PatchField, FieldSpec>),

    ...(rbw !== false && { readBeforeWrite: rbw === true ? true : (patch: ApiKeyPatch) => matches(rbw, {}, patch) }),
    ...(reads && {
      readKey: (cfg: Cfg & { baseUrl: string }, id: string) => build(pick(reads, cfg), { id, config: cfg }),
      parseKey(body: unknown, id: string) {
        const key = readKey.evaluate({ body, id });
        return isRecord(key) ? toKey({ key, id, body }, id) : undefined;
      },
      parseCurrent(body: unknown) {
        const key = readKey.evaluate({ body });
        return isRecord(key) ? key : undefined;
      },
    }),

    buildUpdate(cfg, id, patch, current) {
      const request = pick(updates, cfg, patch);
      return build(request, { id, config: cfg, patch: patchScope(patch), current });
    },

    normalize(body, id, sent) {
      const check = updateCheck?.evaluate({ body });
      if (updateCheck && (check === undefined || check === null || check === false)) return undefined;
      const key = updateKey.evaluate({ body, sent: sent.body, id });
      return isRecord(key) ? toKey({ key, id, body, sent: sent.body }, id) : undefined;
    },

    mapError(res) {
      const body = res.json;
      const items = errItems?.evaluate({ body });
      const list = Array.isArray(items) ? items : undefined;
      const first: unknown = list ? list[0] : body;
      const scope = (error: unknown) => ({ error, body, headers: res.headers, status: res.status });
      const out: VendorError = {};
      const vendorCode = errCode?.evaluate(scope(first));
      if (vendorCode !== undefined && vendorCode !== null) out.vendorCode = String(vendorCode);
      const messages = (list ?? [first]).slice(0, 20).flatMap((item) => {
        const m = errMessage?.evaluate(scope(item));
        if (m === undefined || m === null || m === '') return [];
        const f = errField?.evaluate(scope(item));
        return [typeof f === 'string' && f !== '' ? `${f}: ${String(m)}` : String(m)];
      });
      if (messages.length) out.message = messages.join('; ');
      const trace = errTrace?.evaluate(scope(first));
      if (typeof trace === 'string' || typeof trace === 'number') out.traceId = String(trace);
      const code = (out.vendorCode !== undefined ? err.codes[out.vendorCode] : undefined) ?? err.statuses[String(res.status)];
      if (code) out.code = code;
      if (res.status === 429 || res.status === 503) {
        const after = Number(errRetry?.evaluate(scope(first)));
        if (Number.isFinite(after) && after >= 0) out.retryAfter = Math.ceil(after);
      }
      return out;
    },

    ...(list && {
      listPage(cfg: Cfg & { baseUrl: string }, page: string | undefined) {
        const base = build(pick(list.requests, cfg), { config: cfg });
        if (page === undefined) return pagination?.type === 'page' ? withQuery(base, pageQuery(pagination, String(pagination.start))) : base;
        if (pagination?.type === 'nextLink') return fromLink(cfg.baseUrl, page);
        if (pagination?.type === 'page') return withQuery(base, pageQuery(pagination, page));
        if (pagination?.type === 'cursor') return withQuery(base, { [pagination.param]: page });
        return base;
      },
      parseListPage(body: unknown, page: string | undefined) {
        const items = list.items.evaluate({ body });
        if (!Array.isArray(items)) return undefined;
        const keys: NormalizedKey[] = [];
        for (const item of items) {
          const key = isRecord(item) ? toKey({ key: item, body }, '') : undefined;
          if (!key || key.id === '') return undefined;
          keys.push(key);
        }
        return { keys, next: nextPage(body, page, items.length) };
      },
    }),
    ...options.overrides,
  };

  const nextPage = (body: unknown, page: string | undefined, count: number): string | undefined => {
    if (!pagination || pagination.type === 'none') return undefined;
    if (pagination.type === 'page') {
      if (count === 0 || (pagination.size !== undefined && count < pagination.size)) return undefined;
      return String(Number(page ?? pagination.start) + 1);
    }
    const next = listNext?.evaluate({ body });
    if (typeof next !== 'string' || next === '') return undefined;
    if (pagination.type === 'cursor') return next;
    // A next link keeps only its path and query: the next page is always asked of the configured host.
    try {
      const u = new URL(next, 'http://base.invalid');
      return u.pathname + u.search;
    } catch {
      return undefined;
    }
  };
  return adapter;
}

/** Whether the update may be repeated: as declared, else every method but POST (which may create or add each time). */
function idempotencyOf(declared: boolean | undefined, updates: readonly { method: string; path: string }[]): UpdateIdempotency {
  const calls = updates.map((u) => `${u.method} ${u.path}`).join(' or ');
  if (declared !== undefined) return { idempotent: declared, why: `${calls}: declared ${declared ? 'idempotent' : 'not idempotent'} in the definition` };
  const post = updates.some((u) => u.method === 'POST');
  return { idempotent: !post, why: post ? `${calls}: a POST may add on each attempt` : `${calls} sets the patched fields` };
}

/** The definition's vendor patch object (`cloudflare`, …) as a GraphQL input declared as data, if it has one. */
function patchInputOf(patch: Partial<Record<PatchField, FieldSpec>>): { patchInput?: PatchInputSpec } {
  const entry = (['cloudflare', 'confluent', 'algolia'] as const).find((f) => patch[f]?.fields);
  if (!entry) return {};
  const spec = patch[entry]!;
  const typeOf = (l: z.infer<typeof objectField>): Pick<InputFieldSpec, 'type' | 'list'> => {
    switch (l.type) {
      case 'array':
        return l.items === 'string' ? { type: 'String', list: true } : { type: 'JSON' };
      case 'string':
        return { type: 'String' };
      case 'integer':
        return { type: 'Int' };
      case 'number':
        return { type: 'Float' };
      case 'boolean':
        return { type: 'Boolean' };
      case 'date':
        return { type: 'DateTime' };
      default:
        return { type: 'JSON' };
    }
  };
  // GraphQL field name -> wire name.
  const wires = Object.entries(spec.fields!).map(([wire, l]) => [l.graphqlName ?? wire, wire, l] as const);
  const root = `${entry[0].toUpperCase()}${entry.slice(1)}Patch`;
  return {
    patchInput: {
      field: entry,
      description: spec.description ?? `${entry} fields`,
      root,
      types: [
        {
          name: root,
          description: spec.description ?? `${entry} fields`,
          fields: Object.fromEntries(wires.map(([name, wire, l]) => [name, { ...typeOf(l), description: l.description ?? `${entry} \`${wire}\`` }])),
        },
      ],
      // Null fields are dropped: absent and null both leave the field alone.
      toWire: (input) => Object.fromEntries(wires.flatMap(([name, wire]) => (input[name] === undefined || input[name] === null ? [] : [[wire, input[name]]]))),
    },
  };
}

/** The next-link token (`/path?query`) as a request relative to the base URL. */
function fromLink(baseUrl: string, link: string): UpstreamRequest {
  const u = new URL(link, 'http://base.invalid');
  const basePath = new URL(baseUrl).pathname.replace(/\/+$/, '');
  const path = basePath && u.pathname.startsWith(`${basePath}/`) ? u.pathname.slice(basePath.length) : u.pathname;
  const query = Object.fromEntries(u.searchParams);
  return { method: 'GET', path, ...(Object.keys(query).length > 0 && { query }) };
}

function pageQuery(p: { param: string; sizeParam?: string; size?: number }, page: string): Record<string, string> {
  return { [p.param]: page, ...(p.sizeParam && p.size !== undefined && { [p.sizeParam]: String(p.size) }) };
}

function withQuery(req: UpstreamRequest, query: Record<string, string>): UpstreamRequest {
  return { ...req, query: { ...req.query, ...query } };
}

/** A path template: every placeholder's value is percent-encoded as one path segment. */
function compilePath(text: string, at: string, roots: string[], problems: TemplateProblems): Compiled {
  const parts: (string | Compiled)[] = [];
  let last = 0;
  for (const m of text.matchAll(/\{\{([\s\S]*?)\}\}/g)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    parts.push(compileExpression(m[1], at, roots, problems));
    last = m.index + m[0].length;
  }
  if (last < text.length) parts.push(text.slice(last));
  for (const p of parts)
    if (typeof p === 'string' && /[{}?#\s]/.test(p))
      problems.add(at, 'holds "{", "}", "?", "#" or whitespace outside a {{ }} placeholder (put query parameters in `query`)');
  return {
    evaluate: (scope) =>
      parts
        .map((p) => {
          if (typeof p === 'string') return p;
          const v = p.evaluate(scope);
          // An absent value would make a different path; `_` keeps the shape and the vendor answers 404.
          return v === undefined || v === null || v === '' ? '_' : encodeURIComponent(String(v));
        })
        .join(''),
  };
}

function compilePattern(pattern: string, at: string, problems: TemplateProblems): void {
  try {
    new RegExp(pattern, 'u');
  } catch (e) {
    problems.add(at, `is not a valid regular expression (${(e as Error).message})`);
  }
}

function matches(when: Condition | undefined, cfg: Record<string, unknown>, patch?: ApiKeyPatch): boolean {
  if (!when) return true;
  const set = (f: PatchField) => patch !== undefined && isSet(patch[f]);
  const has = (k: string) => cfg[k] !== undefined && cfg[k] !== null && cfg[k] !== '';
  return (when.set ?? []).every(set) && !(when.unset ?? []).some(set) && (when.configSet ?? []).every(has) && !(when.configUnset ?? []).some(has);
}

function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (isRecord(v)) return Object.values(v).some((x) => x !== undefined);
  return true;
}

/** The patch as templates see it: tags also as a map (`patch.tagMap`), dates as Dates. */
function patchScope(patch: ApiKeyPatch): Record<string, unknown> {
  const out: Record<string, unknown> = { ...patch };
  if (patch.setTags || patch.removeTags)
    out.tagMap = Object.fromEntries([...(patch.setTags ?? []).map((t) => [t.key, t.value ?? null]), ...(patch.removeTags ?? []).map((k) => [k, null])]);
  return out;
}

function toUpstreamAuth(a: Record<string, unknown>): UpstreamAuth {
  switch (a.type) {
    case 'bearer':
      return { type: 'bearer', token: String(a.token ?? '') };
    case 'basic':
    case 'digest':
      return { type: a.type, username: String(a.username ?? ''), password: String(a.password ?? '') };
    case 'headers':
      return { type: 'headers', headers: stringValues(isRecord(a.headers) ? a.headers : {}) };
    case 'oauth-client-credentials':
      return { type: a.type, tokenUrl: String(a.tokenUrl ?? ''), clientId: String(a.clientId ?? ''), clientSecret: String(a.clientSecret ?? '') };
    default:
      return { type: 'headers', headers: {} };
  }
}

function stringValues(o: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== null) out[k] = v instanceof Date ? v.toISOString() : String(v);
  return out;
}

/** Dates as ISO strings, so the body is plain JSON everywhere (previews, audit, the wire). */
function jsonSafe(v: unknown): unknown {
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(jsonSafe);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, c]) => [k, jsonSafe(c)]));
  return v;
}

function toTags(v: unknown): NormalizedKey['tags'] {
  if (isRecord(v)) return Object.entries(v).map(([key, value]) => ({ key, value: value === null || value === undefined ? null : String(value) }));
  if (Array.isArray(v))
    return v.filter(isRecord).map((t) => ({ key: String(t.key), value: t.value === null || t.value === undefined ? null : String(t.value) }));
  return null;
}

/** The definition's local limits, checked before anything is sent. */
export function validatePatch(patch: ApiKeyPatch, specs: Partial<Record<PatchField, FieldSpec>>): FieldProblem[] {
  const problems: FieldProblem[] = [];
  for (const [field, spec] of Object.entries(specs) as [PatchField, FieldSpec][]) {
    const value = patch[field];
    if (value === undefined || value === null) continue;
    if (field === 'setTags' || field === 'removeTags') {
      const list = value as ApiKeyPatch['setTags'] | string[];
      list?.forEach((t, i) => {
        const key = typeof t === 'string' ? t : t.key;
        const at = field === 'setTags' ? `setTags[${i}].key` : `removeTags[${i}]`;
        checkLimits(key, { ...spec, type: 'string', minItems: undefined, maxItems: undefined }, at, problems);
      });
      if (spec.maxItems !== undefined && (list?.length ?? 0) > spec.maxItems) problems.push({ field, message: `must hold at most ${spec.maxItems} items` });
      continue;
    }
    checkLimits(value, spec, field, problems);
    if (spec.fields && isRecord(value)) {
      for (const [sub, v] of Object.entries(value)) {
        if (v === undefined) continue;
        const subSpec = spec.fields[sub];
        if (!subSpec) {
          problems.push({ field: `${field}.${sub}`, message: `is not supported (supported: ${Object.keys(spec.fields).join(', ')})` });
          continue;
        }
        if (v !== null) checkLimits(v, subSpec, `${field}.${subSpec.graphqlName ?? sub}`, problems);
      }
    }
  }
  return problems;
}

function checkLimits(value: unknown, l: Limits, field: string, problems: FieldProblem[]): void {
  const fail = (message: string) => problems.push({ field, message });
  const type = l.type;
  if (type === 'date') {
    if (toDateValue(value) === undefined) fail('must be a date-time');
    return;
  }
  if (type === 'integer' && !Number.isSafeInteger(value)) return void fail('must be a whole number');
  if (type === 'number' && typeof value !== 'number') return void fail('must be a number');
  if (type === 'boolean' && typeof value !== 'boolean') return void fail('must be true or false');
  if (type === 'string' && typeof value !== 'string') return void fail('must be a string');
  if (type === 'array' && !Array.isArray(value)) return void fail('must be a list');
  if (type === 'object' && !isRecord(value)) return void fail('must be an object');
  if (typeof value === 'number') {
    if (l.min !== undefined && value < l.min) fail(`must be at least ${l.min}`);
    if (l.max !== undefined && value > l.max) fail(`must be at most ${l.max}`);
  }
  const strings = typeof value === 'string' ? [[field, value] as const] : Array.isArray(value) ? value.map((v, i) => [`${field}[${i}]`, v] as const) : [];
  if (Array.isArray(value)) {
    if (l.minItems !== undefined && value.length < l.minItems) fail(`must hold at least ${l.minItems} item${l.minItems === 1 ? '' : 's'}`);
    if (l.maxItems !== undefined && value.length > l.maxItems) fail(`must hold at most ${l.maxItems} items`);
  }
  for (const [at, s] of strings) {
    if (typeof s !== 'string') continue;
    if (l.minLength !== undefined && s.length < l.minLength)
      problems.push({ field: at, message: `must be at least ${l.minLength} character${l.minLength === 1 ? '' : 's'}` });
    if (l.maxLength !== undefined && s.length > l.maxLength) problems.push({ field: at, message: `must be at most ${l.maxLength} characters` });
    if (l.allowed && !l.allowed.includes(s)) problems.push({ field: at, message: `"${s.slice(0, 64)}" is not allowed (allowed: ${l.allowed.join(', ')})` });
    if (l.pattern !== undefined && !new RegExp(l.pattern, 'u').test(s)) problems.push({ field: at, message: `must match ${l.pattern}` });
  }
}

function issueText(at: string, issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `${[at, ...issue.path].join('.')}: unknown field(s) ${issue.keys.join(', ')}`;
  const p = [at, ...issue.path.map(String)].join('.');
  if (issue.code === 'invalid_type' && issue.input === undefined) return `${p}: required`;
  return `${p}: ${issue.message}`;
}

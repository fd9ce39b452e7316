/**
 * The one operation: check a patch locally, turn it into the vendor's call, and turn the vendor's
 * answer into an ApiKey or a GatewayError. Nothing is sent upstream until every local check passed.
 */
import type { ApiKeyPatch, FieldProblem, NormalizedKey, ProviderKind, UpstreamRequest, UpstreamResponse } from '../providers/types.ts';
import { runOperation, type OperationProgress } from './audit/run-operation.ts';
import type { AuditStore } from './audit/store.ts';
import { authorize, type Caller } from './auth.ts';
import type { Connection, Connections } from './connections.ts';
import { auditUnavailableError, badResponseError, GatewayError, inputError, keyBusyError, keyLockLostError, unavailableError, upstreamError } from './errors.ts';
import { KeyLockError } from './key-lock.ts';
import type { Loaders } from './loaders.ts';
import type { Context as TraceContext } from '@opentelemetry/api';
import type { RequestLog } from './log.ts';
import type { Tracing } from './tracing.ts';
import type { Metrics } from './metrics.ts';
import { redactBody, redactText } from './redact.ts';
import { UpstreamFailure } from './upstream/client.ts';
import { attemptNumber, attemptSignal } from './upstream/resilience.ts';
import { DeadlineExceededError, startDeadline, type Deadline } from './deadline.ts';
import { controlCharacterProblems, depthProblem, idProblem, setFields, valueProblems } from './validate.ts';

export interface ApiKey extends NormalizedKey {
  provider: string;
  kind: ProviderKind;
}

export interface OperationContext {
  /** Who is asking (src/auth.ts); every operation checks the caller's scopes first. */
  caller: Caller;
  /** The audit log; undefined when it is off. */
  audit?: AuditStore;
  connections: Connections;
  log: RequestLog;
  /** Per-request DataLoaders (src/loaders.ts). */
  loaders: Loaders;
  /** Forwarded to vendors as X-Request-Id. */
  requestId?: string;
  metrics?: Metrics;
  tracing?: Tracing;
  /** The GraphQL operation's span context, parent of upstream spans. */
  traceContext?: TraceContext;
  signal?: AbortSignal;
}

/** Finds the connection or throws UNKNOWN_PROVIDER naming the configured ones. */
export function connectionFor(ctx: OperationContext, provider: string): Connection {
  const connection = ctx.connections.get(provider);
  if (connection) return connection;
  const known = ctx.connections
    .list()
    .map((c) => c.name)
    .join(', ');
  throw new GatewayError(`${provider}: unknown provider (configured: ${known || 'none'})`, {
    code: 'UNKNOWN_PROVIDER',
    provider,
  });
}

/** Refuses an id that cannot go into a vendor's path safely (BAD_USER_INPUT, nothing sent). */
export function checkId(provider: string, id: string): void {
  const badId = idProblem(id);
  if (badId) throw inputError(provider, `key id ${JSON.stringify(id.slice(0, 64))} ${badId}`, 'id');
}

/** Every local check of an update; throws the first failing one, having sent nothing. */
export function checkUpdate(connection: Connection, provider: string, id: string, patch: ApiKeyPatch): void {
  checkId(provider, id);
  const { adapter } = connection;
  const tooDeep = depthProblem(patch);
  if (tooDeep) throw inputError(provider, `key "${id}": the patch ${tooDeep}`, 'patch');
  // Values no vendor can be sent as given (Infinity, lone surrogates, `__proto__`), for every vendor alike.
  const unsendable = valueProblems(patch);
  if (unsendable.length > 0) throw invalidPatch(provider, id, unsendable);
  const fields = setFields(patch);
  if (fields.length === 0)
    throw inputError(provider, `key "${id}": the patch is empty; set at least one of ${adapter.patchFields.join(', ')}`, 'patch');
  const unsupported = fields.filter((f) => !adapter.patchFields.includes(f));
  if (unsupported.length > 0)
    throw new GatewayError(
      `${provider}: key "${id}": ${adapter.kind} cannot change ${unsupported.join(', ')}; supported fields: ${adapter.patchFields.join(', ')}`,
      { code: 'UNSUPPORTED_FIELD', provider, details: { fields: unsupported, allowed: adapter.patchFields } },
    );
  const problems = [...controlCharacterProblems(patch), ...adapter.validate(patch)];
  if (problems.length > 0) throw invalidPatch(provider, id, problems);
}

function invalidPatch(provider: string, id: string, problems: FieldProblem[]): GatewayError {
  return new GatewayError(`${provider}: key "${id}": invalid patch: ${problems.map((p) => `patch.${p.field} ${p.message}`).join('; ')}`, {
    code: 'BAD_USER_INPUT',
    provider,
    details: { fields: problems.map((p) => `patch.${p.field}`) },
  });
}

/** A patch, or how to make it from the client's input (its failure is then this update's, audited). */
export type PatchSource = ApiKeyPatch | (() => ApiKeyPatch);

export function updateApiKey(ctx: OperationContext, provider: string, id: string, patch: PatchSource): Promise<ApiKey> {
  return runOperation(ctx, { operation: 'update', provider, keyId: id, patch, audited: true }, (progress) => applyUpdate(ctx, provider, id, patch, progress));
}

async function applyUpdate(ctx: OperationContext, provider: string, id: string, source: PatchSource, progress: OperationProgress): Promise<ApiKey> {
  authorize(ctx.caller, 'keys:write', provider);
  const connection = connectionFor(ctx, provider);
  const patch = typeof source === 'function' ? source() : source;
  checkUpdate(connection, provider, id, patch);
  // Fail closed: no audit intent recorded, nothing sent.
  await progress.begin();
  // One deadline from here on: the key-lock wait, the bulkhead queue and every attempt.
  const deadline = startDeadline(connection.deadlineMs);
  try {
    return await applyRecorded(ctx, connection, provider, id, patch, progress, deadline);
  } finally {
    deadline.dispose();
  }
}

async function applyRecorded(
  ctx: OperationContext,
  connection: Connection,
  provider: string,
  id: string,
  patch: ApiKeyPatch,
  progress: OperationProgress,
  deadline: Deadline,
): Promise<ApiKey> {
  const { adapter, settings } = connection;

  const loader = ctx.loaders.keys(connection);
  let writesSent = 0;
  const write = async (): Promise<ApiKey> => {
    progress.attempt();
    try {
      const current = adapter.readBeforeWrite ? await currentOf(ctx, connection, id) : undefined;
      const request = adapter.buildUpdate(settings, id, patch, current);
      writesSent += 1;
      const res = await call(ctx, connection, provider, id, request);
      progress.answered(res.status);
      const normalized = adapter.normalize(res.json, id, request);
      if (!normalized) throw badResponseError(provider, id, res.status, 'a body it does not document');
      const key = toApiKey(connection, provider, normalized, ctx.connections.secrets);
      // A later read in this operation sees the new value (for Tyk, the session as written).
      loader.prime(id, { found: true, key, current: adapter.readBeforeWrite ? request.body : undefined });
      return key;
    } catch (err) {
      // After a failed write the vendor's state is unknown: the next attempt reads afresh.
      loader.clear(id);
      throw err;
    }
  };

  // Tyk's PUT replaces the whole session, so its read-modify-write runs one at a time per key,
  // and a retry repeats the whole read-modify-write.
  // With the PostgreSQL audit store the lock also holds across gateway replicas.
  // Losing the PostgreSQL lock mid-call (its connection dropped) aborts the call.
  const resilient = (lost?: AbortSignal) => connection.resilience.execute(() => write(), joinSignals(ctx.signal, lost), deadline);
  if (!adapter.readBeforeWrite) return resilient();
  let cut: KeyLockError | undefined;
  try {
    return await connection.lock.run(id, deadline, (lost) =>
      resilient(lost).finally(() => {
        if (lost?.aborted) cut = lost.reason as KeyLockError;
      }),
    );
  } catch (err) {
    if (cut) {
      ctx.log.error({ provider, keyId: id, reason: cut.message, writesSent }, 'key lock lost mid-update; the call was cut');
      throw keyLockLostError(provider, id, cut.message, writesSent);
    }
    if (!(err instanceof KeyLockError)) throw err;
    ctx.log.error({ provider, keyId: id, lock: err.kind, reason: err.message }, 'key lock not taken; nothing sent');
    throw err.kind === 'timeout' ? keyBusyError(provider, id, err.message) : auditUnavailableError(provider, id);
  }
}

function joinSignals(a: AbortSignal | undefined, b: AbortSignal | undefined): AbortSignal | undefined {
  return a && b ? AbortSignal.any([a, b]) : (a ?? b);
}

/** The object a read-before-write vendor's update starts from, read through the request's loader. */
export async function currentOf(ctx: OperationContext, connection: Connection, id: string): Promise<unknown> {
  const loaded = await ctx.loaders.keys(connection).load(id);
  if (!loaded.found) throw loaded.error;
  return loaded.current;
}

export function toApiKey(connection: Connection, provider: string, key: NormalizedKey, secrets: readonly string[]): ApiKey {
  // Any field may echo a credential (a client can put one in a tag): every string is checked.
  const clean = (v: string | null) => (v === null ? null : redactText(v, secrets));
  return {
    ...key,
    name: clean(key.name),
    roles: key.roles && key.roles.map((r) => redactText(r, secrets)),
    tags: key.tags && key.tags.map((t) => ({ key: redactText(t.key, secrets), value: clean(t.value) })),
    provider,
    kind: connection.kind,
    raw: redactBody(key.raw, connection.adapter.secretBodyFields, secrets),
  };
}

/** The HTTP exchange itself, in an upstream span (when tracing is on) whose traceparent goes along. */
function send(ctx: OperationContext, connection: Connection, provider: string, req: UpstreamRequest, signal: AbortSignal | undefined): Promise<UpstreamResponse> {
  const tracing = ctx.tracing;
  if (!tracing?.enabled) return connection.client.send(req, { signal, requestId: ctx.requestId });
  const attributes = { 'keygate.provider': provider, 'keygate.kind': connection.kind, 'http.request.method': req.method, 'keygate.attempt': attemptNumber() ?? 1 };
  return tracing.inSpan(`upstream ${req.method}`, ctx.traceContext, attributes, async (span, spanContext) => {
    const res = await connection.client.send(req, { signal, requestId: ctx.requestId, traceparent: tracing.traceparent(spanContext) });
    span.setAttribute('http.response.status_code', res.status);
    return res;
  });
}

/**
 * One upstream call, judged: a 2xx answer is returned; anything else becomes the one error shape.
 * The failure is logged once, without headers or bodies.
 */
export async function call(ctx: OperationContext, connection: Connection, provider: string, id: string, req: UpstreamRequest): Promise<UpstreamResponse> {
  let res: UpstreamResponse;
  // Inside connection.resilience.execute: the caller's signal joined with the call's deadline.
  const signal = attemptSignal() ?? ctx.signal;
  try {
    res = await send(ctx, connection, provider, req, signal);
  } catch (err) {
    if (!(err instanceof UpstreamFailure)) throw err;
    const deadline = signal?.reason instanceof DeadlineExceededError ? signal.reason : undefined;
    ctx.log.warn({ provider, kind: connection.kind, method: req.method, path: req.path, failure: deadline ? 'deadline' : err.kind }, 'upstream call failed');
    if (deadline) throw unavailableError(provider, id, deadline.message);
    if (err.kind === 'too_large') throw badResponseError(provider, id, err.status ?? 200, `a body over the size limit (${err.message})`);
    throw unavailableError(provider, id, err.message);
  }
  if (res.status >= 200 && res.status < 300) return res;
  const secrets = ctx.connections.secrets;
  if (res.status >= 300 && res.status < 400) {
    ctx.log.warn({ provider, kind: connection.kind, method: req.method, path: req.path, status: res.status }, 'upstream redirect refused');
    throw badResponseError(provider, id, res.status, 'a redirect, which keygate never follows');
  }
  const vendor = connection.adapter.mapError(res);
  const error = upstreamError(provider, id, res, vendor, secrets);
  ctx.log.warn(
    {
      provider,
      kind: connection.kind,
      method: req.method,
      path: req.path,
      status: res.status,
      code: error.code,
      vendorCode: vendor.vendorCode,
      traceId: vendor.traceId,
    },
    'upstream error',
  );
  throw error;
}

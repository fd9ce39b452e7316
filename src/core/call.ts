/**
 * The upstream call every operation shares: find the connection, send one request (in a span when
 * tracing is on), and judge the answer — a 2xx is returned, anything else becomes the one error
 * shape (src/core/errors.ts). Also the read a read-modify-write starts from, and the ApiKey a
 * vendor body becomes (credentials redacted).
 */
import type { NormalizedKey, UpstreamRequest, UpstreamResponse } from '../../providers/types.ts';
import { UpstreamFailure } from '../upstream/client.ts';
import { tokenEndpointError } from '../upstream/oauth.ts';
import { attemptNumber, attemptSignal } from '../upstream/resilience.ts';
import type { Connection } from './connections.ts';
import type { ApiKey, OperationContext } from './context.ts';
import { DeadlineExceededError } from './deadline.ts';
import { badResponseError, GatewayError, unavailableError, upstreamError } from './errors.ts';
import { keptKeyId, keptPath } from './key-ids.ts';
import { redactBody, redactText } from './redact.ts';

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

/** The object a read-before-write vendor's update starts from, read through the request's loader. */
export async function currentOf(ctx: OperationContext, connection: Connection, id: string): Promise<unknown> {
  const loaded = await ctx.loaders.keys(connection).load(id);
  if (!loaded.found) throw loaded.error;
  return loaded.current;
}

export function toApiKey(connection: Connection, provider: string, key: NormalizedKey, configured: readonly string[]): ApiKey {
  const secrets = withLiveCredentials(connection, configured);
  // Any field may echo a credential (a client can put one in a tag): every string is checked.
  const clean = (v: string | null) => (v === null ? null : redactText(v, secrets));
  return {
    ...key,
    name: clean(key.name),
    roles: key.roles?.map((r) => redactText(r, secrets)) ?? null,
    tags: key.tags?.map((t) => ({ key: redactText(t.key, secrets), value: clean(t.value) })) ?? null,
    provider,
    kind: connection.kind,
    raw: redactBody(key.raw, connection.adapter.secretBodyFields, secrets),
    fetchedAt: new Date(),
  };
}

/** The configured credentials plus those the connection obtained at run time (an access token). */
function withLiveCredentials(connection: Connection, configured: readonly string[]): readonly string[] {
  const live = connection.client.liveCredentials();
  return live.length === 0 ? configured : [...configured, ...live];
}

/** The HTTP exchange itself, in an upstream span (when tracing is on) whose traceparent goes along. */
function send(
  ctx: OperationContext,
  connection: Connection,
  provider: string,
  id: string,
  req: UpstreamRequest,
  signal: AbortSignal | undefined,
): Promise<UpstreamResponse> {
  const tracing = ctx.tracing;
  if (!tracing?.enabled) return connection.client.send(req, { signal, requestId: ctx.requestId });
  const attributes = {
    'keygate.provider': provider,
    'keygate.kind': connection.kind,
    // The key this call addresses (not a list page), as keygate keeps it.
    ...(req.path.includes(encodeURIComponent(id)) && { 'keygate.key_id': keptKeyId(connection, id) }),
    'http.request.method': req.method,
    'keygate.attempt': attemptNumber() ?? 1,
  };
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
  // The path holds the key id, which for some vendors is the key itself: logs keep its fingerprint.
  const path = keptPath(connection, id, req.path);
  // Inside connection.resilience.execute: the caller's signal joined with the call's deadline.
  const signal = attemptSignal() ?? ctx.signal;
  try {
    res = await send(ctx, connection, provider, id, req, signal);
  } catch (err) {
    if (!(err instanceof UpstreamFailure)) throw err;
    const deadline = signal?.reason instanceof DeadlineExceededError ? signal.reason : undefined;
    ctx.log.warn({ provider, kind: connection.kind, method: req.method, path, failure: deadline ? 'deadline' : err.kind }, 'upstream call failed');
    if (deadline) throw unavailableError(provider, id, deadline.message);
    if (err.kind === 'too_large') throw badResponseError(provider, id, err.status ?? 200, `a body over the size limit (${err.message})`);
    throw unavailableError(provider, id, err.message, !err.reached);
  }
  if (res.tokenEndpoint && res.status >= 200 && res.status < 300) {
    ctx.log.warn({ provider, kind: connection.kind, status: res.status }, 'upstream token answer not understood');
    throw badResponseError(provider, id, res.status, 'an access token answer it does not document');
  }
  if (res.status >= 200 && res.status < 300) return res;
  const secrets = withLiveCredentials(connection, ctx.connections.secrets);
  if (res.status >= 300 && res.status < 400) {
    ctx.log.warn({ provider, kind: connection.kind, method: req.method, path, status: res.status }, 'upstream redirect refused');
    throw badResponseError(provider, id, res.status, 'a redirect, which keygate never follows');
  }
  const vendor = res.tokenEndpoint ? tokenEndpointError(res) : connection.adapter.mapError(res, connection.settings);
  const error = upstreamError(provider, id, res, vendor, secrets, connection.adapter.rateLimitHeaders);
  ctx.log.warn(
    {
      provider,
      kind: connection.kind,
      method: req.method,
      path,
      status: res.status,
      code: error.code,
      vendorCode: vendor.vendorCode,
      traceId: vendor.traceId,
    },
    'upstream error',
  );
  throw error;
}

/**
 * Every client-visible error is made here: one GraphQL error shape for every vendor.
 *
 * `extensions.code` is one of a closed set; `extensions.provider` names the connection as the
 * client passed it; `extensions.upstream` says what the vendor answered, whenever it answered.
 * Anything thrown that is not a GatewayError is a bug, and yoga masks it as "Unexpected error.".
 */
import { GraphQLError } from 'graphql';
import type { ErrorCode, RateLimitHeaders, UpstreamResponse, VendorError } from '../../providers/types.ts';
import { readRateLimitHeaders } from '../upstream/rate-limit-headers.ts';
import { redactText } from './redact.ts';

export type { ErrorCode };

export interface UpstreamInfo {
  status: number;
  code?: string;
  message?: string;
  traceId?: string;
  /** Seconds the vendor asked us to wait (Retry-After). */
  retryAfter?: number;
  /** Upstream attempts made for this answer (src/upstream/resilience.ts), retries included. */
  attempts?: number;
  /** The fields the vendor refused, with its reason for each (Atlas v2 `badRequestDetail.fields`). */
  fields?: { field: string; description: string }[];
}

export interface GatewayErrorOptions {
  code: ErrorCode;
  provider?: string;
  upstream?: UpstreamInfo;
  /** Extra, safe, machine-readable detail (e.g. the offending field). */
  details?: Record<string, unknown>;
  /** Known not to have reached the vendor (no connection was made); never shown to the client. */
  nothingSent?: boolean;
}

export class GatewayError extends GraphQLError {
  override readonly name = 'GatewayError';
  readonly code: ErrorCode;
  /** True when the vendor cannot have received the request (src/upstream/resilience.ts may then repeat any call). */
  readonly nothingSent: boolean;

  constructor(message: string, options: GatewayErrorOptions) {
    super(message, {
      extensions: {
        code: options.code,
        ...(options.provider !== undefined && { provider: options.provider }),
        ...(options.upstream && { upstream: options.upstream }),
        ...options.details,
      },
    });
    this.code = options.code;
    this.nothingSent = options.nothingSent ?? false;
    // A GatewayError is an answer, not a bug: its stack trace is never read, yet each wrapper
    // (graphql's locatedError, yoga's result processing) would format it, per error, per request.
    Object.defineProperty(this, 'stack', { value: `${this.name}: ${message}`, writable: true, configurable: true });
  }
}

/** Status defaults, used when the vendor's body does not decide the code itself. */
export function codeForStatus(status: number): ErrorCode {
  if (status === 400 || status === 422) return 'BAD_USER_INPUT';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 409) return 'CONFLICT';
  if (status === 429) return 'RATE_LIMITED';
  return 'UPSTREAM_ERROR';
}

const WHAT: Record<ErrorCode, string> = {
  BAD_USER_INPUT: 'rejected the request as invalid',
  UNSUPPORTED_FIELD: 'does not support a field',
  UNKNOWN_PROVIDER: 'is not configured',
  UNAUTHENTICATED: "rejected keygate's credentials",
  FORBIDDEN: "refused: keygate's credentials lack permission",
  NOT_FOUND: 'has no such key',
  CONFLICT: 'reported a conflict',
  RATE_LIMITED: 'is rate limiting keygate',
  UPSTREAM_ERROR: 'failed',
  UPSTREAM_UNAVAILABLE: 'could not be reached',
  UPSTREAM_BAD_RESPONSE: 'answered with something it does not document',
  UNSUPPORTED_OPERATION: 'does not offer this operation',
  AUDIT_UNAVAILABLE: 'was not called: the audit log cannot record',
};

/** Parses Retry-After (seconds or an HTTP date) into whole seconds. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}

/** A short, human summary of a body that is not JSON (HTML error pages, plain text). */
function summarizeText(text: string): string | undefined {
  const title = /<title>([^<]*)<\/title>/i.exec(text)?.[1];
  const plain = (title ?? text.replace(/<[^>]*>/g, ' ')).replace(/\s+/g, ' ').trim();
  if (!plain) return undefined;
  return plain.length > 200 ? `${plain.slice(0, 200)}…` : plain;
}

/**
 * Builds the error for a vendor's non-2xx answer: the body first, the status second. A 429's
 * `retryAfter` is its `Retry-After`, else the vendor's own, else the reset its declared rate-limit
 * headers state (SendGrid and Datadog send no Retry-After).
 */
export function upstreamError(
  provider: string,
  keyId: string,
  res: UpstreamResponse,
  vendor: VendorError,
  secrets: readonly string[],
  rateLimitHeaders?: RateLimitHeaders,
): GatewayError {
  const code = vendor.code ?? codeForStatus(res.status);
  // A vendor may echo what it was sent; no credential may ride back to the client in its words.
  const said = vendor.message ?? (res.json === undefined ? summarizeText(res.text) : undefined);
  const message = said === undefined ? undefined : redactText(said, secrets);
  const upstream: UpstreamInfo = {
    status: res.status,
    ...(vendor.vendorCode !== undefined && { code: vendor.vendorCode }),
    ...(message !== undefined && { message }),
    ...(vendor.traceId !== undefined && { traceId: vendor.traceId }),
    ...(vendor.fields !== undefined && {
      fields: vendor.fields.map((f) => ({ field: redactText(f.field, secrets), description: redactText(f.description, secrets) })),
    }),
  };
  const resetMs = res.status === 429 && rateLimitHeaders ? readRateLimitHeaders(rateLimitHeaders, res.headers, Date.now()).resetMs : undefined;
  const retryAfter = parseRetryAfter(res.headers.get('retry-after')) ?? vendor.retryAfter ?? (resetMs === undefined ? undefined : Math.ceil(resetMs / 1000));
  if (retryAfter !== undefined) upstream.retryAfter = retryAfter;
  const detail = message ? `: ${vendor.vendorCode ? `${vendor.vendorCode} ` : ''}${message}` : ', with an empty body';
  return new GatewayError(`${provider}: key "${keyId}": the vendor ${WHAT[code]} (HTTP ${res.status})${detail}`, {
    code,
    provider,
    upstream,
  });
}

export function unavailableError(provider: string, keyId: string, why: string, nothingSent = false): GatewayError {
  return new GatewayError(`${provider}: key "${keyId}": the vendor could not be reached: ${why}`, {
    code: 'UPSTREAM_UNAVAILABLE',
    provider,
    nothingSent,
  });
}

export function badResponseError(provider: string, keyId: string, status: number, why: string): GatewayError {
  return new GatewayError(`${provider}: key "${keyId}": the vendor answered HTTP ${status} with ${why}`, {
    code: 'UPSTREAM_BAD_RESPONSE',
    provider,
    upstream: { status },
  });
}

/**
 * The same error, saying how many upstream attempts were made: in `upstream.attempts` when the
 * vendor answered the last attempt, else in `extensions.attempts` (timeouts, connection errors).
 */
export function withAttempts(err: GatewayError, attempts: number): GatewayError {
  const { code: _code, provider, upstream, ...details } = err.extensions as Record<string, unknown> & { provider?: string; upstream?: UpstreamInfo };
  return new GatewayError(err.message, {
    code: err.code,
    ...(provider !== undefined && { provider }),
    ...(upstream ? { upstream: { ...upstream, attempts }, details } : { details: { ...details, attempts } }),
    nothingSent: err.nothingSent,
  });
}

/** The circuit breaker is open: keygate fails fast without calling the vendor. */
export function circuitOpenError(provider: string, failures: number, retryAfter: number): GatewayError {
  return new GatewayError(
    `${provider}: the vendor failed ${failures} times in a row, so keygate is not calling it for now (circuit open); try again in ${retryAfter} s`,
    { code: 'UPSTREAM_UNAVAILABLE', provider, details: { retryAfter, attempts: 0 } },
  );
}

/** The bulkhead is full: `maxConcurrency` calls in flight and the queue full, or no turn before the deadline. */
export function tooManyCallsError(provider: string, maxConcurrency: number, why: string): GatewayError {
  return new GatewayError(`${provider}: too many concurrent calls to the vendor (at most ${maxConcurrency} in flight); ${why}`, {
    code: 'UPSTREAM_UNAVAILABLE',
    provider,
    details: { attempts: 0 },
  });
}

export function inputError(provider: string, message: string, field?: string): GatewayError {
  return new GatewayError(`${provider}: ${message}`, {
    code: 'BAD_USER_INPUT',
    provider,
    ...(field !== undefined && { details: { field } }),
  });
}

/**
 * The caller's own credentials are missing or invalid (not a vendor's answer: no `upstream`).
 * `http` makes yoga answer HTTP 401 with a `WWW-Authenticate` challenge; yoga strips it from the body.
 */
export function callerUnauthenticatedError(why: string, challenge: string): GatewayError {
  return new GatewayError(`authentication required: ${why}`, {
    code: 'UNAUTHENTICATED',
    details: { http: { status: 401, headers: { 'WWW-Authenticate': challenge } } },
  });
}

/** The caller is known but holds no scope covering this operation on this provider; nothing was sent. */
export function forbiddenError(caller: string, scope: string, provider?: string): GatewayError {
  const on = provider === undefined ? '' : ` on provider "${provider}"`;
  // JSON quoting: a JWT subject with quotes or control characters cannot reshape the message.
  return new GatewayError(`caller ${JSON.stringify(caller)} lacks scope ${scope}${on}; nothing was sent`, {
    code: 'FORBIDDEN',
    ...(provider !== undefined && { provider }),
    details: { scope },
  });
}

/** The audit store cannot record: fail closed, before anything is sent upstream. */
export function auditUnavailableError(provider: string | undefined, keyId: string | undefined): GatewayError {
  const what = [provider, keyId === undefined ? undefined : `key "${keyId}"`].filter(Boolean).join(': ');
  return new GatewayError(`${what ? `${what}: ` : ''}the audit log cannot record right now, so keygate refused the operation; nothing was sent`, {
    code: 'AUDIT_UNAVAILABLE',
    ...(provider !== undefined && { provider }),
  });
}

/** The call's deadline passed before its first attempt could start; nothing was sent. */
export function deadlinePassedError(provider: string, deadlineMs: number): GatewayError {
  return new GatewayError(`${provider}: no turn to call the vendor within the deadline of ${deadlineMs} ms; nothing was sent`, {
    code: 'UPSTREAM_UNAVAILABLE',
    provider,
    details: { attempts: 0 },
  });
}

/**
 * The key lock was lost mid-update (its PostgreSQL connection dropped), so the call was cut.
 * `writesSent`: PUTs that went out and may have been applied.
 */
export function keyLockLostError(provider: string, keyId: string, why: string, writesSent: number): GatewayError {
  const state = writesSent > 0 ? 'the PUT was sent and may have been applied: read the key before retrying' : 'nothing was written';
  return new GatewayError(`${provider}: key "${keyId}": update cut: ${why}; ${state}`, {
    code: 'UPSTREAM_UNAVAILABLE',
    provider,
    details: { attempts: writesSent },
  });
}

/** Other updates of this key (here or in another replica) held its lock past the call's deadline; nothing was sent. */
export function keyBusyError(provider: string, keyId: string, why: string): GatewayError {
  return new GatewayError(`${provider}: key "${keyId}": not updated: ${why}; nothing was sent, try again`, {
    code: 'UPSTREAM_UNAVAILABLE',
    provider,
    details: { attempts: 0 },
  });
}

/** Without `auth`, keygate answers only requests addressed to a loopback host name (DNS rebinding guard). */
export function hostRefusedError(): GatewayError {
  return new GatewayError('without an `auth` section keygate answers only requests addressed to a loopback host (localhost, 127.0.0.1, [::1])', {
    code: 'FORBIDDEN',
    details: { http: { status: 403 } },
  });
}

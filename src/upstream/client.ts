/**
 * The HTTP client of one provider connection: the only place keygate talks to a vendor.
 *
 * It turns an adapter's UpstreamRequest into a real call (ky over an undici pool), adds the
 * vendor's auth (Bearer, a header, an HTTP Digest handshake, or an OAuth client-credentials token
 * fetched from the vendor's token endpoint), reads the body once as text and
 * parses JSON in a try. Failures to get an answer at all become an UpstreamFailure; every answer,
 * whatever its status, is returned for the adapter and src/core/errors.ts to judge.
 */
import { randomBytes } from 'node:crypto';
import ky, { type AfterResponseHook, type BeforeRequestHook, type Input, type KyInstance, type Options } from 'ky';
import type { UpstreamAuth, UpstreamRequest, UpstreamResponse } from '../../providers/types.ts';
import { GatewayError } from '../core/errors.ts';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from './digest.ts';
import { createTokenSource, parseTokenAnswer, type TokenSource } from './oauth.ts';
import { BodyTooLargeError, createUndiciFetch, type FastInit, isTimeout, responseText } from './undici-fetch.ts';

export const MAX_RESPONSE_BYTES = 1024 * 1024;
const USER_AGENT = 'keygate/0.1';

/** No usable answer: the vendor was unreachable, too slow, or sent too much. */
export class UpstreamFailure extends Error {
  override readonly name = 'UpstreamFailure';
  readonly kind: 'timeout' | 'connection' | 'too_large';
  /** too_large: the status the vendor answered with. */
  readonly status?: number;
  /** False when no connection to the vendor was made (refused, unresolvable, connect timeout): nothing was sent. */
  readonly reached: boolean;
  constructor(kind: UpstreamFailure['kind'], message: string, status?: number, reached = true) {
    super(message);
    this.kind = kind;
    this.status = status;
    this.reached = reached;
  }
}

export interface UpstreamClientOptions {
  baseUrl: string;
  auth: UpstreamAuth;
  timeoutMs: number;
  /** Keep-alive sockets to the vendor, at most (default 32); closed by `close()`. */
  maxConnections?: number;
  /** Told of every HTTP exchange (for metrics): status undefined when no answer came. */
  onExchange?(e: { method: string; status: number | undefined; seconds: number }): void;
  /** Awaited before every HTTP exchange (the rate-limit token, src/upstream/rate-limit.ts); a rejection sends nothing. */
  beforeExchange?(signal: AbortSignal | undefined): Promise<void>;
  /** Told of every answer's status and headers (rate-limit signals). */
  onAnswer?(status: number, headers: Headers): void;
  /** The clock of the OAuth token cache (default Date.now). */
  now?: () => number;
}

export interface SendOptions {
  signal?: AbortSignal;
  /** Forwarded to the vendor as `X-Request-Id`. */
  requestId?: string;
  /** W3C trace context of the upstream span, forwarded as `traceparent` (tracing on only). */
  traceparent?: string;
}

export interface UpstreamClient {
  /** The full URL a request goes to (for previews and logs; never holds credentials). */
  urlFor(req: UpstreamRequest): string;
  /** The headers a request is sent with, every credential shown as "[redacted]" (for previews). */
  headersFor(req: UpstreamRequest): Record<string, string>;
  send(req: UpstreamRequest, options?: SendOptions): Promise<UpstreamResponse>;
  /** Credentials obtained at run time (an OAuth access token), to redact like configured ones. */
  liveCredentials(): string[];
  /** Closes the pool once its calls are done; `force` aborts those still running. */
  close(force?: boolean): Promise<void>;
}

export function createUpstreamClient(options: UpstreamClientOptions): UpstreamClient {
  const pool = createUndiciFetch({ maxBodyBytes: MAX_RESPONSE_BYTES, connections: options.maxConnections, timeoutMs: options.timeoutMs });
  const { auth } = options;

  /** Every HTTP exchange (token requests and auth resends included), timed for the metrics. */
  const fetch = async (input: Input, init?: FastInit): Promise<Response> => {
    // The rate-limit token first (its wait is not the exchange's time): a refusal sends nothing.
    if (options.beforeExchange) await options.beforeExchange(init?.upstreamSignal);
    const started = performance.now();
    const method = input instanceof Request ? input.method : (init?.method ?? 'GET');
    const exchanged = (status: number | undefined) => options.onExchange?.({ method, status, seconds: (performance.now() - started) / 1000 });
    try {
      const response = await pool.fetch(input, init);
      exchanged(response.status);
      options.onAnswer?.(response.status, response.headers);
      return response;
    } catch (err) {
      exchanged(undefined);
      throw err;
    }
  };

  // ky's own timeout and retries are off: the pool times each exchange (undici-fetch.ts) and the
  // resilience layer retries whole calls (a read-modify-write is one call of two requests).
  const base: KyInstance = ky.create({
    fetch,
    timeout: false,
    retry: 0,
    throwHttpErrors: false,
    redirect: 'manual',
    headers: { accept: 'application/json', 'user-agent': USER_AGENT },
  });

  /** One call (its exchanges included): the answer, body read as text and JSON parsed in a try; no answer at all is an UpstreamFailure. */
  const call = async (http: KyInstance, url: string, init: Options & FastInit): Promise<UpstreamResponse> => {
    let response: Response;
    try {
      response = await http(url, init);
    } catch (err) {
      if (err instanceof TokenRefused || err instanceof UpstreamFailure || err instanceof GatewayError) throw err;
      throw toFailure(err, options.timeoutMs);
    }
    const text = responseText(response) ?? (await response.text());
    let json: unknown;
    if (text.length > 0) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    return { status: response.status, headers: response.headers, json, text };
  };

  // Digest: the last challenge is reused with a fresh nonce count per request, so most calls need
  // one round trip; a 401 with a new challenge (stale nonce) is answered once.
  let challenge: DigestChallenge | undefined;
  let nonceCount = 0;

  // OAuth client credentials: the token lives here, so a new client (a reload) starts without one.
  const tokens: TokenSource | undefined =
    auth.type === 'oauth-client-credentials'
      ? createTokenSource({
          now: options.now,
          fetch: async () => {
            const res = await call(base, auth.tokenUrl, {
              method: 'POST',
              headers: {
                authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64')}`,
                'content-type': 'application/x-www-form-urlencoded',
              },
              body: 'grant_type=client_credentials',
            });
            const answer = res.status >= 200 && res.status < 300 ? parseTokenAnswer(res.json) : undefined;
            return answer ?? { refused: { ...res, tokenEndpoint: true } };
          },
        })
      : undefined;

  /** Sets the vendor's credential on every request (a resend too). */
  const setCredential: BeforeRequestHook = async ({ request, options: sent }) => {
    switch (auth.type) {
      case 'bearer':
        request.headers.set('authorization', `Bearer ${auth.token}`);
        return;
      case 'header':
        request.headers.set(auth.name, auth.value);
        return;
      case 'headers':
        for (const [name, value] of Object.entries(auth.headers)) request.headers.set(name, value);
        return;
      case 'basic':
        request.headers.set('authorization', `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`);
        return;
      case 'digest': {
        if (!challenge) return;
        const u = new URL(request.url);
        nonceCount += 1;
        request.headers.set(
          'authorization',
          digestAuthorization({
            username: auth.username,
            password: auth.password,
            method: request.method,
            uri: u.pathname + u.search,
            challenge,
            nc: nonceCount,
            cnonce: randomBytes(8).toString('hex'),
          }),
        );
        return;
      }
      case 'oauth-client-credentials': {
        if (!tokens) return;
        const token = await tokenOrRefusal(tokens, callerSignal(sent.context));
        if ('refused' in token) throw new TokenRefused(token.refused);
        request.headers.set('authorization', `Bearer ${token.token}`);
        return;
      }
    }
  };

  /**
   * A 401 answered once: Digest when it brings a first or a new (stale, rotated) challenge; OAuth
   * when the token believed valid was refused (it is dropped and a new one fetched). The resend is
   * a new call whose answer replaces the 401 (ky's own retries stay off, see above).
   */
  const answerChallenge: AfterResponseHook = ({ request, options: sent, response }) => {
    if (response.status !== 401 || sent.context.resend) return;
    if (auth.type === 'digest') {
      const offered = parseDigestChallenge(response.headers.get('www-authenticate') ?? '');
      if (!offered) return;
      if (challenge !== undefined && !offered.stale && challenge.nonce === offered.nonce) return;
      challenge = offered;
      nonceCount = 0;
    } else {
      tokens?.invalidate(request.headers.get('authorization')?.slice('Bearer '.length) ?? '');
    }
    const resend: Options & FastInit = {
      method: request.method,
      headers: request.headers,
      upstreamBody: typeof sent.context.body === 'string' ? sent.context.body : undefined,
      upstreamSignal: callerSignal(sent.context),
      context: { ...sent.context, resend: true },
    };
    return api(request.url, resend);
  };

  const answersChallenges = auth.type === 'digest' || tokens !== undefined;
  const api = base.extend({
    hooks: {
      beforeRequest: [setCredential],
      // Only Digest and OAuth answer a 401 (ky hands each afterResponse hook a clone of the answer).
      afterResponse: answersChallenges ? [answerChallenge] : [],
    },
  });

  const urlFor = (req: UpstreamRequest): string => {
    const query = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
    return `${options.baseUrl}${req.path}${query}`;
  };

  const send = async (req: UpstreamRequest, sendOptions: SendOptions = {}): Promise<UpstreamResponse> => {
    const body = req.body === undefined ? undefined : JSON.stringify(req.body);
    // The body and the signal go beside ky's Request, straight to the undici fetch (see
    // undici-fetch.ts for why); `context` hands them to the auth hooks for a resend.
    const init: Options & FastInit = {
      method: req.method,
      headers: {
        ...(body !== undefined && { 'content-type': 'application/json' }),
        ...req.headers,
        ...(sendOptions.requestId && { 'x-request-id': sendOptions.requestId }),
        ...(sendOptions.traceparent && { traceparent: sendOptions.traceparent }),
      },
      upstreamBody: body,
      upstreamSignal: sendOptions.signal,
      ...(answersChallenges && { context: { body, signal: sendOptions.signal } }),
    };
    try {
      return await call(api, urlFor(req), init);
    } catch (err) {
      if (err instanceof TokenRefused) return err.refusal;
      throw err;
    }
  };

  const headersFor = (req: UpstreamRequest): Record<string, string> => {
    const headers: Record<string, string> = { accept: 'application/json', 'user-agent': USER_AGENT };
    if (req.body !== undefined) headers['content-type'] = 'application/json';
    for (const [name, value] of Object.entries(req.headers ?? {})) headers[name.toLowerCase()] = value;
    if (auth.type === 'bearer' || auth.type === 'oauth-client-credentials') headers.authorization = 'Bearer [redacted]';
    if (auth.type === 'digest') headers.authorization = 'Digest [redacted]';
    if (auth.type === 'header') headers[auth.name.toLowerCase()] = '[redacted]';
    if (auth.type === 'basic') headers.authorization = 'Basic [redacted]';
    if (auth.type === 'headers') for (const name of Object.keys(auth.headers)) headers[name.toLowerCase()] = '[redacted]';
    return headers;
  };

  return { urlFor, headersFor, send, liveCredentials: () => tokens?.current() ?? [], close: (force) => pool.close(force) };
}

/** The caller's signal, handed to the hooks in ky's `context`. */
function callerSignal(context: Record<string, unknown>): AbortSignal | undefined {
  return context.signal instanceof AbortSignal ? context.signal : undefined;
}

/** The token endpoint refused: its answer is the call's answer (src/core/errors.ts reads it). */
class TokenRefused extends Error {
  readonly refusal: UpstreamResponse;
  constructor(refusal: UpstreamResponse) {
    super('the token endpoint refused');
    this.refusal = refusal;
  }
}

/** A token, or the token endpoint's refusal; a caller that stops waiting fails as an aborted exchange. */
async function tokenOrRefusal(source: TokenSource, signal: AbortSignal | undefined) {
  try {
    return await source.get(signal);
  } catch (err) {
    if (err instanceof UpstreamFailure) throw err;
    throw new UpstreamFailure('connection', 'the access token request was abandoned');
  }
}

/** Error codes of a connection that was never made, so no request can have reached the vendor. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

function toFailure(err: unknown, timeoutMs: number): UpstreamFailure {
  const cause = findCause(err);
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const reached = code === undefined || !NOT_CONNECTED.has(code);
  if (isTimeout(cause)) return new UpstreamFailure('timeout', `no answer within ${timeoutMs} ms`, undefined, reached);
  if (cause instanceof BodyTooLargeError) return new UpstreamFailure('too_large', cause.message, cause.status);
  return new UpstreamFailure('connection', code ? `connection failed (${code})` : 'connection failed', undefined, reached);
}

function findCause(err: unknown): unknown {
  let current = err;
  for (let i = 0; i < 5 && current instanceof Error; i++) {
    if (current instanceof BodyTooLargeError || isTimeout(current) || (current as NodeJS.ErrnoException).code) return current;
    current = current.cause;
  }
  return current;
}

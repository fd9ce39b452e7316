/**
 * The HTTP client of one provider connection: the only place keygate talks to a vendor.
 *
 * It turns an adapter's UpstreamRequest into a real call (ky over an undici pool), adds the
 * vendor's auth (Bearer, Basic, fixed headers, an HTTP Digest handshake, or an OAuth client-credentials
 * token fetched from the vendor's token endpoint), reads the body once as text and
 * parses JSON in a try. Failures to get an answer at all become an UpstreamFailure; every answer,
 * whatever its status, is returned for the adapter and src/core/errors.ts to judge.
 */
import { randomBytes } from 'node:crypto';
import ky, { type KyInstance } from 'ky';
import type { UpstreamAuth, UpstreamRequest, UpstreamResponse } from '../../providers/types.ts';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from './digest.ts';
import { createTokenSource, parseTokenAnswer, type TokenSource } from './oauth.ts';
import { BodyTooLargeError, createUndiciFetch, isTimeout, responseText } from './undici-fetch.ts';

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
  const http: KyInstance = ky.create({
    fetch: pool.fetch,
    // The pool times each exchange (undici-fetch.ts): no timer and no joined signal per call in ky.
    timeout: false,
    retry: 0,
    throwHttpErrors: false,
    redirect: 'manual',
    headers: { accept: 'application/json', 'user-agent': USER_AGENT },
  });
  const { auth } = options;

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
            const res = await exchange(
              auth.tokenUrl,
              'POST',
              {
                authorization: `Basic ${Buffer.from(`${encodeURIComponent(auth.clientId)}:${encodeURIComponent(auth.clientSecret)}`).toString('base64')}`,
                'content-type': 'application/x-www-form-urlencoded',
              },
              'grant_type=client_credentials',
              undefined,
            );
            const answer = res.status >= 200 && res.status < 300 ? parseTokenAnswer(res.json) : undefined;
            return answer ?? { refused: { ...res, tokenEndpoint: true } };
          },
        })
      : undefined;

  const urlFor = (req: UpstreamRequest): string => {
    const query = req.query ? `?${new URLSearchParams(req.query).toString()}` : '';
    return `${options.baseUrl}${req.path}${query}`;
  };

  const authHeaders = (req: UpstreamRequest, url: string): Record<string, string> => {
    switch (auth.type) {
      case 'bearer':
        return { authorization: `Bearer ${auth.token}` };
      case 'header':
        return { [auth.name]: auth.value };
      case 'headers':
        return { ...auth.headers };
      case 'basic':
        return { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` };
      case 'oauth-client-credentials':
        return {};
      case 'digest': {
        if (!challenge) return {};
        const u = new URL(url);
        nonceCount += 1;
        return {
          authorization: digestAuthorization({
            username: auth.username,
            password: auth.password,
            method: req.method,
            uri: u.pathname + u.search,
            challenge,
            nc: nonceCount,
            cnonce: randomBytes(8).toString('hex'),
          }),
        };
      }
    }
  };

  /** One HTTP exchange, timed for the metrics; no answer at all is an UpstreamFailure. */
  const exchange = async (
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResponse> => {
    if (options.beforeExchange) await options.beforeExchange(signal);
    let response: Response;
    const started = performance.now();
    const exchanged = (status: number | undefined) => options.onExchange?.({ method, status, seconds: (performance.now() - started) / 1000 });
    try {
      response = await http(url, {
        method,
        headers,
        // The body and the signal ride beside ky's Request to our fetch (undici-fetch.ts).
        ...(body !== undefined && ({ upstreamBody: body } as object)),
        ...(signal && ({ upstreamSignal: signal } as object)),
      });
    } catch (err) {
      exchanged(undefined);
      throw toFailure(err, options.timeoutMs);
    }
    exchanged(response.status);
    options.onAnswer?.(response.status, response.headers);
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

  const once = (req: UpstreamRequest, url: string, sendOptions: SendOptions, bearer?: string): Promise<UpstreamResponse> =>
    exchange(
      url,
      req.method,
      {
        ...(req.body !== undefined && { 'content-type': 'application/json' }),
        ...req.headers,
        ...(bearer === undefined ? authHeaders(req, url) : { authorization: `Bearer ${bearer}` }),
        ...(sendOptions.requestId && { 'x-request-id': sendOptions.requestId }),
        ...(sendOptions.traceparent && { traceparent: sendOptions.traceparent }),
      },
      req.body === undefined ? undefined : JSON.stringify(req.body),
      sendOptions.signal,
    );

  /** OAuth: the call with the cached token; a 401 to a token believed valid gets one new token and one resend. */
  const sendWithToken = async (source: TokenSource, req: UpstreamRequest, url: string, sendOptions: SendOptions): Promise<UpstreamResponse> => {
    const first = await tokenOrRefusal(source, sendOptions.signal);
    if ('refused' in first) return first.refused;
    const res = await once(req, url, sendOptions, first.token);
    if (res.status !== 401) return res;
    source.invalidate(first.token);
    const renewed = await tokenOrRefusal(source, sendOptions.signal);
    if ('refused' in renewed) return renewed.refused;
    return once(req, url, sendOptions, renewed.token);
  };

  const send = async (req: UpstreamRequest, sendOptions: SendOptions = {}): Promise<UpstreamResponse> => {
    const url = urlFor(req);
    if (tokens) return sendWithToken(tokens, req, url, sendOptions);
    const first = await once(req, url, sendOptions);
    if (auth.type !== 'digest' || first.status !== 401) return first;
    const offered = parseDigestChallenge(first.headers.get('www-authenticate') ?? '');
    if (!offered) return first;
    const hadChallenge = challenge !== undefined;
    if (hadChallenge && !offered.stale && challenge?.nonce === offered.nonce) return first;
    // A first handshake, or a stale/rotated nonce: answer the challenge once.
    challenge = offered;
    nonceCount = 0;
    return once(req, url, sendOptions);
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

/**
 * The HTTP client of one provider connection: the only place keygate talks to a vendor.
 *
 * It turns an adapter's UpstreamRequest into a real call (ky over an undici pool), adds the
 * vendor's auth (Bearer, Basic, fixed headers, or an HTTP Digest handshake), reads the body once as text and
 * parses JSON in a try. Failures to get an answer at all become an UpstreamFailure; every answer,
 * whatever its status, is returned for the adapter and src/core/errors.ts to judge.
 */
import { randomBytes } from 'node:crypto';
import ky, { type KyInstance } from 'ky';
import type { UpstreamAuth, UpstreamRequest, UpstreamResponse } from '../../providers/types.ts';
import { digestAuthorization, parseDigestChallenge, type DigestChallenge } from './digest.ts';
import { BodyTooLargeError, createUndiciFetch, isTimeout, responseText } from './undici-fetch.ts';

export const MAX_RESPONSE_BYTES = 1024 * 1024;
const USER_AGENT = 'keygate/0.1';

/** No usable answer: the vendor was unreachable, too slow, or sent too much. */
export class UpstreamFailure extends Error {
  override readonly name = 'UpstreamFailure';
  readonly kind: 'timeout' | 'connection' | 'too_large';
  /** too_large: the status the vendor answered with. */
  readonly status?: number;
  constructor(kind: UpstreamFailure['kind'], message: string, status?: number) {
    super(message);
    this.kind = kind;
    this.status = status;
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

  const once = async (req: UpstreamRequest, url: string, sendOptions: SendOptions): Promise<UpstreamResponse> => {
    let response: Response;
    const started = performance.now();
    const exchanged = (status: number | undefined) => options.onExchange?.({ method: req.method, status, seconds: (performance.now() - started) / 1000 });
    try {
      response = await http(url, {
        method: req.method,
        headers: {
          ...authHeaders(req, url),
          ...(sendOptions.requestId && { 'x-request-id': sendOptions.requestId }),
          ...(sendOptions.traceparent && { traceparent: sendOptions.traceparent }),
          ...(req.body !== undefined && { 'content-type': 'application/json' }),
        },
        // The body and the signal ride beside ky's Request to our fetch (undici-fetch.ts).
        ...(req.body !== undefined && ({ upstreamBody: JSON.stringify(req.body) } as object)),
        ...(sendOptions.signal && ({ upstreamSignal: sendOptions.signal } as object)),
      });
    } catch (err) {
      exchanged(undefined);
      throw toFailure(err, options.timeoutMs);
    }
    exchanged(response.status);
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

  const send = async (req: UpstreamRequest, sendOptions: SendOptions = {}): Promise<UpstreamResponse> => {
    const url = urlFor(req);
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
    if (auth.type === 'bearer') headers.authorization = 'Bearer [redacted]';
    if (auth.type === 'digest') headers.authorization = 'Digest [redacted]';
    if (auth.type === 'header') headers[auth.name.toLowerCase()] = '[redacted]';
    if (auth.type === 'basic') headers.authorization = 'Basic [redacted]';
    if (auth.type === 'headers') for (const name of Object.keys(auth.headers)) headers[name.toLowerCase()] = '[redacted]';
    return headers;
  };

  return { urlFor, headersFor, send, close: (force) => pool.close(force) };
}

function toFailure(err: unknown, timeoutMs: number): UpstreamFailure {
  const cause = findCause(err);
  if (isTimeout(cause)) return new UpstreamFailure('timeout', `no answer within ${timeoutMs} ms`);
  if (cause instanceof BodyTooLargeError) return new UpstreamFailure('too_large', cause.message, cause.status);
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  return new UpstreamFailure('connection', code ? `connection failed (${code})` : 'connection failed');
}

function findCause(err: unknown): unknown {
  let current = err;
  for (let i = 0; i < 5 && current instanceof Error; i++) {
    if (current instanceof BodyTooLargeError || isTimeout(current) || (current as NodeJS.ErrnoException).code) return current;
    current = current.cause;
  }
  return current;
}

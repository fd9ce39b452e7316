/**
 * The access token of one OAuth 2.0 client-credentials connection (Atlas service accounts): one
 * token at a time, reused until shortly before it expires; concurrent calls that need a new one
 * share a single token request. Atlas caps live tokens per service account (100), so a token is
 * never fetched per call. The clock is injectable so expiry is tested with fake time.
 */
import type { ErrorCode, UpstreamResponse, VendorError } from '../../providers/types.ts';

/** A token is renewed this long before `expires_in` runs out (at most half its lifetime). */
export const TOKEN_EXPIRY_MARGIN_MS = 60_000;

/** What one token request gave: a token, or the endpoint's refusal (any non-2xx answer). */
export type TokenFetchResult = { token: string; expiresInSec: number } | { refused: UpstreamResponse };

export type TokenResult = { token: string } | { refused: UpstreamResponse };

export interface TokenSourceOptions {
  /** One token request; throws (an UpstreamFailure) when no answer came. */
  fetch(): Promise<TokenFetchResult>;
  /** Milliseconds since the epoch (default Date.now). */
  now?: () => number;
}

export interface TokenSource {
  /** A token valid now: the cached one, or the one being fetched (never two fetches at once). */
  get(signal?: AbortSignal): Promise<TokenResult>;
  /** The API refused `token`: drop it, unless a newer one replaced it already. */
  invalidate(token: string): void;
  /** The tokens fetched so far that may still be in use (for redaction). */
  current(): string[];
}

export function createTokenSource(options: TokenSourceOptions): TokenSource {
  const now = options.now ?? Date.now;
  let cached: { token: string; renewAt: number } | undefined;
  let pending: Promise<TokenResult> | undefined;
  // The last few tokens: a call started with an older one may still be answering.
  const recent: string[] = [];

  const fetchOnce = (): Promise<TokenResult> => {
    pending ??= (async () => {
      try {
        const result = await options.fetch();
        if ('refused' in result) return result;
        const lifetimeMs = Math.max(0, result.expiresInSec * 1000);
        cached = { token: result.token, renewAt: now() + lifetimeMs - Math.min(TOKEN_EXPIRY_MARGIN_MS, lifetimeMs / 2) };
        recent.push(result.token);
        if (recent.length > 4) recent.shift();
        return { token: result.token };
      } finally {
        pending = undefined;
      }
    })();
    return pending;
  };

  return {
    get(signal) {
      if (cached && now() < cached.renewAt) return Promise.resolve({ token: cached.token });
      cached = undefined;
      const shared = fetchOnce();
      if (!signal) return shared;
      // A caller whose deadline passes stops waiting; the shared request goes on for the others.
      return new Promise<TokenResult>((resolve, reject) => {
        if (signal.aborted) return reject(signal.reason);
        const onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
      });
    },
    invalidate(token) {
      if (cached?.token === token) cached = undefined;
    },
    current: () => [...recent],
  };
}

/** Reads a token answer `{access_token, token_type, expires_in}`; undefined when it is not one. */
export function parseTokenAnswer(json: unknown): { token: string; expiresInSec: number } | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const { access_token, token_type, expires_in } = json as Record<string, unknown>;
  if (typeof access_token !== 'string' || access_token.length === 0) return undefined;
  if (typeof token_type === 'string' && token_type.toLowerCase() !== 'bearer') return undefined;
  const seconds = typeof expires_in === 'number' && Number.isFinite(expires_in) && expires_in > 0 ? expires_in : 3600;
  return { token: access_token, expiresInSec: seconds };
}

/**
 * The token endpoint's refusal as a VendorError: its RFC 6749 §5.2 body `{error, error_description}`
 * is read for the message; a refusal of the credentials (400/401) is UNAUTHENTICATED, 403
 * (Atlas: IP access list, token cap) FORBIDDEN, anything else is judged by its status.
 */
export function tokenEndpointError(res: UpstreamResponse): VendorError {
  const body = (typeof res.json === 'object' && res.json !== null ? res.json : {}) as Record<string, unknown>;
  const vendorCode = typeof body.error === 'string' ? body.error : undefined;
  const description = typeof body.error_description === 'string' ? body.error_description : undefined;
  const code: ErrorCode | undefined = res.status === 400 || res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : undefined;
  return {
    ...(code && { code }),
    ...(vendorCode && { vendorCode }),
    message: `the access token request failed${description ? `: ${description}` : ''}`,
  };
}

/**
 * Caller authentication and authorisation.
 *
 * Callers send `Authorization: Bearer <token>`: a static token from `auth.tokens` (compared as
 * SHA-256 digests in constant time) or, when `auth.jwt` is configured, a JWT verified with jose.
 * A caller holds scopes — `keys:read`, `keys:write`, `audit:read` — each for one provider
 * connection (`keys:write:atlas`) or all of them (`keys:write` = `keys:write:*`).
 *
 * Without an `auth` section every request is the open loopback caller, who holds every scope;
 * src/server.ts makes sure such a keygate listens on a loopback address only.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, importJWK, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig, JwtConfig } from './config.ts';
import { callerUnauthenticatedError, forbiddenError } from './errors.ts';

export type ScopeAction = 'keys:read' | 'keys:write' | 'audit:read';
export const SCOPE_ACTIONS: readonly ScopeAction[] = ['keys:read', 'keys:write', 'audit:read'];

export interface Scope {
  action: ScopeAction;
  /** A provider connection name, or `*` for every one. */
  provider: string;
}

export interface Caller {
  /** Namespaced by source (see callerName below); stands in the audit log, log lines and errors. */
  name: string;
  scopes: readonly Scope[];
  via: 'token' | 'jwt' | 'open';
}

/** The caller of a keygate without `auth`: loopback only, every scope. */
export const OPEN_CALLER: Caller = Object.freeze({
  name: 'anonymous@loopback',
  scopes: SCOPE_ACTIONS.map((action) => ({ action, provider: '*' })),
  via: 'open',
});

/**
 * Caller names carry their source, so a static token and a JWT subject spelled alike stay apart:
 * `token:<name>` (token names hold no `:` or `#`, src/config.ts) and `jwt:<issuer>#<name claim>`
 * with `%` and `#` percent-encoded in the issuer, so the first `#` ends it. Neither prefix can be
 * produced by the other source, and the open caller's `anonymous@loopback` has no `:` at all.
 */
export const callerName = {
  token: (name: string): string => `token:${name}`,
  jwt: (issuer: string, subject: string): string => `jwt:${issuer.replace(/[%#]/g, encodeURIComponent)}#${subject}`,
};

/** `keys:write`, `keys:write:*` or `keys:write:<provider>`; undefined when it is none of these. */
export function parseScope(text: string): Scope | undefined {
  const m = /^(keys:read|keys:write|audit:read)(?::(\*|[A-Za-z][A-Za-z0-9_-]{0,63}))?$/.exec(text);
  if (!m) return undefined;
  return { action: m[1] as ScopeAction, provider: m[2] ?? '*' };
}

/** Whether the caller holds `action` on `provider` (any provider when `provider` is undefined). */
export function hasScope(caller: Caller, action: ScopeAction, provider?: string): boolean {
  return caller.scopes.some((s) => s.action === action && (provider === undefined || s.provider === '*' || s.provider === provider));
}

/** Throws FORBIDDEN unless the caller holds `action` on `provider`. Runs before anything else. */
export function authorize(caller: Caller, action: ScopeAction, provider?: string): void {
  if (!hasScope(caller, action, provider)) throw forbiddenError(caller.name, provider === undefined ? action : `${action}:${provider}`, provider);
}

/** The providers `action` covers for this caller: `'*'` for all, else the named ones. */
export function providersCovered(caller: Caller, action: ScopeAction): '*' | Set<string> {
  const names = new Set<string>();
  for (const s of caller.scopes) {
    if (s.action !== action) continue;
    if (s.provider === '*') return '*';
    names.add(s.provider);
  }
  return names;
}

export interface Authenticator {
  /** Whether callers must authenticate (an `auth` section is configured). */
  readonly required: boolean;
  /**
   * The request's caller; throws UNAUTHENTICATED (HTTP 401 + WWW-Authenticate) otherwise.
   * Synchronous for static tokens (no promise on the hot path); a promise only for a JWT.
   */
  authenticate(request: Request): Caller | Promise<Caller>;
}

const REALM = 'Bearer realm="keygate"';
const MAX_TOKEN_LENGTH = 8192;
/** RFC 6750 b64token. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export function createAuthenticator(auth: AuthConfig | undefined): Authenticator {
  if (!auth) return { required: false, authenticate: () => OPEN_CALLER };
  const verifyJwt = auth.jwt ? createJwtVerifier(auth.jwt) : undefined;

  const tokenCallers = auth.tokens.map((t) => ({ sha256: t.sha256, caller: Object.freeze<Caller>({ name: callerName.token(t.name), scopes: t.scopes, via: 'token' }) }));
  const fromToken = (token: string): Caller | undefined => {
    // Every configured digest is compared, each in constant time, whatever matched before.
    const presented = sha256(token);
    let match: Caller | undefined;
    for (const t of tokenCallers) {
      const equal = timingSafeEqual(presented, t.sha256);
      if (equal && !match) match = t.caller;
    }
    return match;
  };

  return {
    required: true,
    authenticate(request) {
      const header = request.headers.get('authorization');
      if (!header) throw callerUnauthenticatedError('send Authorization: Bearer <token>', REALM);
      const m = /^Bearer +(\S+)\s*$/i.exec(header);
      if (!m || m[1].length > MAX_TOKEN_LENGTH || !B64TOKEN.test(m[1]))
        throw callerUnauthenticatedError('the Authorization header must be "Bearer <token>"', `${REALM}, error="invalid_request"`);
      const token = m[1];
      const invalid = () => callerUnauthenticatedError('the token is not valid', `${REALM}, error="invalid_token"`);
      if (verifyJwt && token.split('.').length === 3)
        return verifyJwt(token).then((caller) => {
          const found = caller ?? fromToken(token);
          if (!found) throw invalid();
          return found;
        });
      const caller = fromToken(token);
      if (!caller) throw invalid();
      return caller;
    },
  };
}

/** Verifies a JWT (signature, issuer, audience, expiry) and reads the caller from its claims. */
function createJwtVerifier(jwt: JwtConfig): (token: string) => Promise<Caller | undefined> {
  let getKey: JWTVerifyGetKey;
  if (jwt.jwksUrl) {
    getKey = createRemoteJWKSet(new URL(jwt.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 });
  } else {
    const byAlg = new Map<string, Promise<CryptoKey | Uint8Array>>();
    const material = jwt.publicKey!;
    getKey = (header) => {
      const alg = header.alg ?? '';
      let key = byAlg.get(alg);
      if (!key) {
        key = material.trim().startsWith('{') ? importJWK(JSON.parse(material), alg) : importSPKI(material, alg);
        byAlg.set(alg, key);
      }
      return key;
    };
  }
  return async (token) => {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, getKey, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        clockTolerance: jwt.clockToleranceSec,
        requiredClaims: ['exp'],
      }));
    } catch {
      return undefined;
    }
    const name = payload[jwt.nameClaim];
    if (typeof name !== 'string' || name.length === 0 || name.length > 128) return undefined;
    const claim = payload[jwt.scopesClaim];
    const texts = typeof claim === 'string' ? claim.split(/\s+/) : Array.isArray(claim) ? claim.filter((s): s is string => typeof s === 'string') : [];
    const scopes = texts.map(parseScope).filter((s): s is Scope => s !== undefined);
    return { name: callerName.jwt(jwt.issuer, name), scopes, via: 'jwt' };
  };
}

/**
 * Query parameter names that carry credentials, compared case-insensitively with `-`, `_` and `.`
 * ignored (`X-Api-Key`, `api_key`, `apiKey` are one name): these exact names, and any name ending
 * in one of CREDENTIAL_SUFFIXES (`access_token`, `client_secret`, `x-api-key`, …).
 */
const CREDENTIAL_PARAMS = new Set(['auth', 'authorization', 'bearer', 'jwt', 'key', 'sig', 'signature', 'credential', 'credentials', 'passwd', 'pwd', 'session', 'sessionid']);
const CREDENTIAL_SUFFIXES = ['token', 'apikey', 'secret', 'password'];

/** Whether a query parameter name is one credentials travel under (see CREDENTIAL_PARAMS). */
export function isCredentialParam(name: string): boolean {
  const n = name.toLowerCase().replace(/[-_.]/g, '');
  return CREDENTIAL_PARAMS.has(n) || CREDENTIAL_SUFFIXES.some((suffix) => n.endsWith(suffix));
}

export function hasCredentialInQuery(url: URL): boolean {
  for (const name of url.searchParams.keys()) if (isCredentialParam(name)) return true;
  return false;
}

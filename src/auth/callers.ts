/**
 * Caller authentication and authorisation.
 *
 * Callers send `Authorization: Bearer <token>`: a static token from `auth.tokens` (compared as
 * SHA-256 digests in constant time) or, when `auth.jwt` is configured, a JWT verified with jose.
 * A caller holds scopes — `keys:read`, `keys:write`, `audit:read` — each for one provider
 * connection (`keys:write:atlas`) or all of them (`keys:write` = `keys:write:*`).
 *
 * Without an `auth` section every request is the open loopback caller, who holds every scope;
 * src/app.ts makes sure such a keygate listens on a loopback address only.
 */
import { timingSafeEqual } from 'node:crypto';
import { createRemoteJWKSet, importJWK, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AuthConfig, JwtConfig } from '../config/schema.ts';
import { callerUnauthenticatedError } from '../core/errors.ts';
import { callerName, OPEN_CALLER, parseScope, sha256, type Caller, type Scope } from './scopes.ts';

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

export function createAuthenticator(auth: AuthConfig | undefined): Authenticator {
  if (!auth) return { required: false, authenticate: () => OPEN_CALLER };
  const verifyJwt = auth.jwt ? createJwtVerifier(auth.jwt) : undefined;

  const tokenCallers = auth.tokens.map((t) => ({
    sha256: t.sha256,
    caller: Object.freeze<Caller>({ name: callerName.token(t.name), scopes: t.scopes, via: 'token' }),
  }));
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
const CREDENTIAL_PARAMS = new Set([
  'auth',
  'authorization',
  'bearer',
  'jwt',
  'key',
  'sig',
  'signature',
  'credential',
  'credentials',
  'passwd',
  'pwd',
  'session',
  'sessionid',
]);
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

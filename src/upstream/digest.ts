/**
 * The client side of HTTP Digest access authentication (RFC 7616, algorithm MD5, qop=auth), as
 * MongoDB Atlas uses it. Pure functions: the caller owns the challenge, the nonce count and the
 * cnonce, so concurrent requests never share mutable state here.
 */
import { createHash } from 'node:crypto';

export interface DigestChallenge {
  realm: string;
  nonce: string;
  /** The qop options offered (e.g. `auth`); undefined when the server offered none (RFC 2069 style). */
  qop?: string;
  /** Always MD5 (a challenge with another algorithm is refused by the parser). */
  algorithm: 'MD5';
  opaque?: string;
  stale: boolean;
}

export interface DigestAuthorizationOptions {
  username: string;
  password: string;
  method: string;
  /** The request target exactly as sent: path plus query string. */
  uri: string;
  challenge: DigestChallenge;
  /** The nonce count, 1 for the first request with this nonce. */
  nc: number;
  cnonce: string;
}

/** Reads a `WWW-Authenticate: Digest …` header; undefined when it is not an MD5 Digest challenge. */
export function parseDigestChallenge(wwwAuthenticate: string): DigestChallenge | undefined {
  // Several challenges may share one header (`Basic realm="x", Digest realm=…`); the parser stops
  // at the next scheme name, which has no `=`.
  const m = /(?:^|,)\s*Digest\s+/i.exec(wwwAuthenticate);
  if (!m) return undefined;
  const params = parseParams(wwwAuthenticate.slice(m.index + m[0].length));
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || !nonce) return undefined;
  const algorithm = params.get('algorithm');
  if (algorithm !== undefined && algorithm.toUpperCase() !== 'MD5') return undefined;
  // Atlas documents its challenge with `op="auth"`, a typo for `qop`.
  const qop = params.get('qop') ?? params.get('op');
  if (qop !== undefined && !qop.split(',').some((q) => q.trim().toLowerCase() === 'auth')) return undefined;
  const opaque = params.get('opaque');
  return {
    realm,
    nonce,
    ...(qop !== undefined && { qop }),
    algorithm: 'MD5',
    ...(opaque !== undefined && { opaque }),
    stale: params.get('stale')?.toLowerCase() === 'true',
  };
}

/** The value of the `Authorization` header answering `challenge` (always qop=auth, MD5). */
export function digestAuthorization(opts: DigestAuthorizationOptions): string {
  const { username, password, method, uri, challenge, cnonce } = opts;
  const nc = formatNonceCount(opts.nc);
  const ha1 = md5(`${username}:${challenge.realm}:${password}`);
  const ha2 = md5(`${method.toUpperCase()}:${uri}`);
  const response = md5(`${ha1}:${challenge.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  const parts = [
    `username=${quote(username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(uri)}`,
    'algorithm=MD5',
    `response=${quote(response)}`,
    'qop=auth',
    `nc=${nc}`,
    `cnonce=${quote(cnonce)}`,
  ];
  if (challenge.opaque !== undefined) parts.push(`opaque=${quote(challenge.opaque)}`);
  return `Digest ${parts.join(', ')}`;
}

function formatNonceCount(nc: number): string {
  if (!Number.isInteger(nc) || nc < 1 || nc > 0xffffffff) throw new RangeError(`nonce count must be 1..${0xffffffff}`);
  return nc.toString(16).padStart(8, '0');
}

function md5(text: string): string {
  return createHash('md5').update(text, 'utf8').digest('hex');
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/** `name=value` pairs, values quoted (with backslash escapes) or bare tokens; names lower-cased. */
function parseParams(input: string): Map<string, string> {
  const params = new Map<string, string>();
  const re = /[\s,]*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*(?:,|$)/gy;
  while (re.lastIndex < input.length) {
    const match = re.exec(input);
    if (match === null) break;
    const name = match[1].toLowerCase();
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : match[3];
    if (!params.has(name)) params.set(name, value);
  }
  return params;
}

/**
 * A faithful in-memory MongoDB Atlas Administration API, v1.0 and v2 (org API keys), per seed 002,
 * vendor-facts §3 and vendor-facts-2 §1: a real HTTP Digest server (MD5, qop=auth, server-issued
 * expiring nonces, replay check), service accounts (OAuth 2.0 client credentials at
 * `POST /api/oauth/token`, Bearer tokens that expire, at most 100 live per account), org roles
 * (Organization Owner to update, Organization Member to read), the documented 400s
 * (API_KEY_NOT_FOUND is a 400), and `{detail, error, errorCode, parameters, reason}` bodies. v2
 * refuses a call without `Accept: application/vnd.atlas.2023-01-01+json` with 406
 * INVALID_VERSION_DATE, as observed.
 */
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import {
  createSimulatorServer,
  INVALID_JSON,
  type SimRateLimitDialect,
  type SimRateLimitOptions,
  type SimRequest,
  type SimResponse,
} from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { ATLAS_DESC_MAX, ATLAS_ORG_ROLES, ATLAS_TOKEN_PATH, ATLAS_V2_MEDIA_TYPE, type AtlasApiKey } from './wire.ts';

export const ATLAS_REALM = 'MMS Public API';
const VERSIONS = ['v1.0', 'v2'];
const DEFAULT_TOKEN_TTL_SEC = 3600;
/** Atlas's cap on live tokens per service account. */
export const ATLAS_MAX_LIVE_TOKENS = 100;
const DEFAULT_NONCE_TTL_MS = 5 * 60_000;
const ITEMS_PER_PAGE_DEFAULT = 100;
const ITEMS_PER_PAGE_MAX = 500;
const OBJECT_ID = /^[a-f0-9]{24}$/;

/** A key that can call the API: its private key (the Digest password) and its org roles. */
export interface AtlasCaller {
  privateKey: string;
  /** Org roles of the caller: ORG_OWNER to update keys, ORG_MEMBER (or ORG_OWNER) to read them. */
  roles: string[];
}

export interface AtlasSimulatorOptions {
  orgId: string;
  /** publicKey (the Digest username) -> the caller's private key and org roles. */
  apiKeys: Record<string, AtlasCaller>;
  /** The org's API keys that can be read and updated. */
  keys: AtlasApiKey[];
  port?: number;
  /** How long an issued nonce stays fresh (default 5 minutes); older ones get `stale=true`. */
  nonceTtlMs?: number;
  /** Service accounts: clientId -> its secret and org roles. */
  serviceAccounts?: Record<string, { clientSecret: string; roles: string[] }>;
  /** `expires_in` of issued tokens (default 3600 s, as Atlas). */
  tokenTtlSec?: number;
  /** Atlas's rate limit of the API (off when absent; the token endpoint is not counted): see ATLAS_RATE_LIMIT. */
  rateLimit?: SimRateLimitOptions;
}

export interface AtlasSimulator extends RunningSimulator {
  /** `baseUrl` is the v1.0 root; this is the v2 root. */
  v2BaseUrl: string;
  keys: Map<string, AtlasApiKey>;
  /** Makes every nonce issued so far stale (the next request with one gets 401 stale=true). */
  expireNonces(): void;
  /** Revokes every access token issued so far (the next call with one gets 401). */
  expireTokens(): void;
  /** Access tokens issued so far (for tests: a fetched token must never reach a response or log). */
  issuedTokens(): string[];
}

interface IssuedToken {
  clientId: string;
  expiresAt: number;
  revoked: boolean;
}

interface IssuedNonce {
  issuedAt: number;
  expired: boolean;
  /** Nonce counts already used: a repeated (nonce, nc) is a replay. */
  seen: Set<number>;
}

const error = (status: number, errorCode: string, detail: string, parameters: unknown[] = []): SimResponse => ({
  status,
  json: { detail, error: status, errorCode, parameters, reason: STATUS_CODES[status] ?? 'Error' },
});

/**
 * v2 (vendor-facts §3, vendor-facts-2 §1): RateLimit-Limit and RateLimit-Remaining on answers, and a
 * 429 RATE_LIMITED_TOKEN_BUCKET with Retry-After. v1.0: no headers, 429 RATE_LIMITED.
 */
export const ATLAS_RATE_LIMIT: SimRateLimitDialect = {
  counts: (req) => req.path !== ATLAS_TOKEN_PATH,
  headers: (w, req): Record<string, string> =>
    req.segments[2] === 'v2' ? { 'ratelimit-limit': String(w.limit), 'ratelimit-remaining': String(w.remaining) } : {},
  tooMany: (w, req) => {
    const resource = `api/atlas/${req.segments[2]}/orgs`;
    if (req.segments[2] !== 'v2')
      return error(429, 'RATE_LIMITED', `Resource ${resource} is limited to ${w.limit} requests every ${w.windowSeconds / 60} minutes.`, [
        resource,
        w.limit,
        w.windowSeconds / 60,
      ]);
    const answer = error(
      429,
      'RATE_LIMITED_TOKEN_BUCKET',
      `Rate limit exceeded for ${resource}. Please retry after ${w.resetSeconds} seconds. Request capacity: ${w.limit}. Refill rate: ${w.limit} per ${w.windowSeconds} seconds.`,
      [resource, w.resetSeconds, w.limit, w.limit, w.windowSeconds],
    );
    return { ...answer, headers: { 'retry-after': String(w.resetSeconds) } };
  },
};

const md5 = (text: string): string => createHash('md5').update(text, 'utf8').digest('hex');

const ROLE_RANK: Record<string, number> = { ORG_OWNER: 2, ORG_MEMBER: 1 };
const hasRole = (roles: string[], needed: 'ORG_OWNER' | 'ORG_MEMBER'): boolean => roles.some((r) => (ROLE_RANK[r] ?? 0) >= ROLE_RANK[needed]);

/** The private key as Atlas shows it after creation: all but the last group masked. */
export function maskPrivateKey(privateKey: string): string {
  return `********-****-****-${privateKey.slice(-12)}`;
}

export async function createAtlasSimulator(options: AtlasSimulatorOptions): Promise<AtlasSimulator> {
  const keys = new Map(options.keys.map((k) => [k.id, structuredClone(k)]));
  const nonceTtlMs = options.nonceTtlMs ?? DEFAULT_NONCE_TTL_MS;
  const nonces = new Map<string, IssuedNonce>();
  const serviceAccounts = options.serviceAccounts ?? {};
  const tokenTtlSec = options.tokenTtlSec ?? DEFAULT_TOKEN_TTL_SEC;
  const tokens = new Map<string, IssuedToken>();
  let origin = '';

  const oauthError = (status: number, error: string, error_description: string): SimResponse => ({ status, json: { error, error_description } });
  const liveTokens = (clientId: string) => [...tokens.values()].filter((t) => t.clientId === clientId && !t.revoked && t.expiresAt > Date.now()).length;

  /** POST /api/oauth/token: HTTP Basic clientId:clientSecret, form body grant_type=client_credentials. */
  const issueToken = (req: SimRequest): SimResponse => {
    if (req.method !== 'POST') return oauthError(405, 'invalid_request', 'Method not allowed.');
    const basic = /^Basic\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''));
    const decoded = basic ? Buffer.from(basic[1], 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    const clientId = colon < 0 ? '' : decodeURIComponent(decoded.slice(0, colon));
    const secret = colon < 0 ? '' : decodeURIComponent(decoded.slice(colon + 1));
    const account = Object.hasOwn(serviceAccounts, clientId) ? serviceAccounts[clientId] : undefined;
    if (!account || account.clientSecret !== secret) return oauthError(401, 'invalid_client', 'Invalid client credentials.');
    if (!String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded'))
      return oauthError(400, 'invalid_request', 'The provided credentials are not valid.');
    if (new URLSearchParams(req.rawBody).get('grant_type') !== 'client_credentials') return oauthError(400, 'unsupported_grant_type', 'Invalid grant type.');
    if (liveTokens(clientId) >= ATLAS_MAX_LIVE_TOKENS)
      return oauthError(403, 'access_denied', 'Access Token limit reached. Please use the existing Access Tokensor create a new Service Account.');
    const token = `eyJhdGxhcyI6InNpbSJ9.${randomBytes(24).toString('base64url')}`;
    tokens.set(token, { clientId, expiresAt: Date.now() + tokenTtlSec * 1000, revoked: false });
    return { status: 200, json: { access_token: token, token_type: 'Bearer', expires_in: tokenTtlSec } };
  };

  /** The service account a Bearer token belongs to, or the 401 for a token that is not (or no longer) valid. */
  const bearer = (token: string): { roles: string[] } | SimResponse => {
    const issued = tokens.get(token);
    if (!issued || issued.revoked || issued.expiresAt <= Date.now())
      return {
        status: 401,
        json: { detail: 'Invalid or expired access token.', error: 401, errorCode: 'UNAUTHORIZED', parameters: [], reason: 'Unauthorized' },
      };
    return { roles: serviceAccounts[issued.clientId].roles };
  };

  const challenge = (stale: boolean): SimResponse => {
    const now = Date.now();
    for (const [n, issued] of nonces) if (now - issued.issuedAt > nonceTtlMs + 3_600_000) nonces.delete(n);
    const nonce = randomBytes(24).toString('base64');
    nonces.set(nonce, { issuedAt: now, expired: false, seen: new Set() });
    return {
      status: 401,
      headers: {
        'content-type': 'application/json;charset=ISO-8859-1',
        'www-authenticate': `Digest realm="${ATLAS_REALM}", domain="", nonce="${nonce}", algorithm=MD5, qop="auth", stale=${stale}`,
      },
      json: { detail: 'You are not authorized for this resource.', error: 401, reason: 'Unauthorized' },
    };
  };

  /** The caller's public key when the Authorization header answers one of our challenges. */
  const authenticate = (req: SimRequest): { publicKey: string } | SimResponse => {
    const header = req.headers.authorization;
    if (typeof header !== 'string') return challenge(false);
    const m = /^Digest\s+(.*)$/is.exec(header);
    if (!m) return challenge(false);
    const p = parseAuthParams(m[1]);
    const { username, realm, nonce, uri, response, qop, nc, cnonce, algorithm } = p;
    if (!username || realm !== ATLAS_REALM || !nonce || !uri || !response || !cnonce) return challenge(false);
    if (algorithm !== undefined && algorithm.toUpperCase() !== 'MD5') return challenge(false);
    if (qop !== 'auth' || !nc || !/^[0-9a-fA-F]{8}$/.test(nc)) return challenge(false);
    if (!sameTarget(uri, req)) return challenge(false);
    const caller = Object.hasOwn(options.apiKeys, username) ? options.apiKeys[username] : undefined;
    const issued = nonces.get(nonce);
    if (!caller || !issued) return challenge(false);
    const ha1 = md5(`${username}:${ATLAS_REALM}:${caller.privateKey}`);
    const ha2 = md5(`${req.method}:${uri}`);
    const expected = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
    if (response.length !== expected.length || !timingSafeEqual(Buffer.from(response.toLowerCase()), Buffer.from(expected))) return challenge(false);
    if (issued.expired || Date.now() - issued.issuedAt > nonceTtlMs) return challenge(true);
    const count = Number.parseInt(nc, 16);
    if (issued.seen.has(count)) return challenge(false);
    issued.seen.add(count);
    return { publicKey: username };
  };

  const handle = (req: SimRequest): SimResponse => {
    if (req.path === ATLAS_TOKEN_PATH) return issueToken(req);
    const [api, atlas, version] = req.segments;
    if (api !== 'api' || atlas !== 'atlas' || !VERSIONS.includes(version))
      return error(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${req.path}.`, [req.path]);
    const header = String(req.headers.authorization ?? '');
    const m = /^Bearer\s+(\S+)$/i.exec(header);
    const auth = m ? bearer(m[1]) : authenticate(req);
    if ('status' in auth) return auth;
    const roles = 'publicKey' in auth ? options.apiKeys[auth.publicKey].roles : auth.roles;
    // v2 names the resource version in Accept; without it Atlas answers 406 (vendor-facts-2 §1).
    if (
      version === 'v2' &&
      !String(req.headers.accept ?? '')
        .split(',')
        .some((t) => t.trim().split(';')[0] === ATLAS_V2_MEDIA_TYPE)
    )
      return error(406, 'INVALID_VERSION_DATE', 'Invalid accept header or version date.');

    const [orgs, orgId, resource, id, ...rest] = req.segments.slice(3);
    if (orgs !== 'orgs' || orgId === undefined || resource !== 'apiKeys' || rest.length > 0)
      return error(404, 'RESOURCE_NOT_FOUND', `Cannot find resource ${req.path}.`, [req.path]);
    if (!OBJECT_ID.test(orgId)) return error(404, 'INVALID_ORG_ID', `The specified organization ID ${orgId} is invalid.`, [orgId]);
    if (orgId !== options.orgId) return error(404, 'ORG_NOT_FOUND', `No organization with ID ${orgId} exists.`, [orgId]);

    if (req.method === 'GET') {
      if (!hasRole(roles, 'ORG_MEMBER')) return error(401, 'USER_UNAUTHORIZED', 'Current user is not authorized to perform this action.');
      return id === undefined ? list(req, version) : read(id, version);
    }
    if (req.method === 'PATCH' && id !== undefined) {
      if (!hasRole(roles, 'ORG_OWNER')) return error(401, 'NOT_ORG_OWNER', `The current user is not an owner of the organization ${orgId}.`, [orgId]);
      return update(id, req.body, version);
    }
    return error(405, 'METHOD_NOT_ALLOWED', `Method ${req.method} is not allowed for ${req.path}.`, [req.method]);
  };

  const view = (key: AtlasApiKey, version: string) => ({
    desc: key.desc,
    id: key.id,
    links: [{ href: `${origin}/api/atlas/${version}/orgs/${options.orgId}/apiKeys/${key.id}`, rel: 'self' }],
    privateKey: maskPrivateKey(key.privateKey),
    publicKey: key.publicKey,
    roles: [
      ...key.roles.map((roleName) => ({ orgId: options.orgId, roleName })),
      ...(key.projectRoles ?? []).map(({ groupId, roleName }) => ({ groupId, roleName })),
    ],
  });

  const notFound = (id: string) => error(400, 'API_KEY_NOT_FOUND', `No API key with ID ${id} exists.`, [id]);

  const read = (id: string, version: string): SimResponse => {
    const key = keys.get(id);
    return key ? { status: 200, json: view(key, version) } : notFound(id);
  };

  const list = (req: SimRequest, version: string): SimResponse => {
    const pageNum = intParam(req, 'pageNum', 1);
    const itemsPerPage = intParam(req, 'itemsPerPage', ITEMS_PER_PAGE_DEFAULT);
    if (pageNum === undefined || pageNum < 1) return error(400, 'INVALID_QUERY_PARAMETER', 'Invalid value for query parameter pageNum.', ['pageNum']);
    if (itemsPerPage === undefined || itemsPerPage < 1 || itemsPerPage > ITEMS_PER_PAGE_MAX)
      return error(400, 'INVALID_QUERY_PARAMETER', `Invalid value for query parameter itemsPerPage; it must be 1..${ITEMS_PER_PAGE_MAX}.`, ['itemsPerPage']);
    const all = [...keys.values()];
    const start = (pageNum - 1) * itemsPerPage;
    const self = `${origin}${req.path}?pageNum=${pageNum}&itemsPerPage=${itemsPerPage}`;
    const links = [{ href: self, rel: 'self' }];
    if (start + itemsPerPage < all.length) links.push({ href: `${origin}${req.path}?pageNum=${pageNum + 1}&itemsPerPage=${itemsPerPage}`, rel: 'next' });
    if (pageNum > 1) links.push({ href: `${origin}${req.path}?pageNum=${pageNum - 1}&itemsPerPage=${itemsPerPage}`, rel: 'previous' });
    const includeCount = req.query.get('includeCount') !== 'false';
    return {
      status: 200,
      json: { links, results: all.slice(start, start + itemsPerPage).map((k) => view(k, version)), ...(includeCount && { totalCount: all.length }) },
    };
  };

  const update = (id: string, body: unknown, version: string): SimResponse => {
    if (body === INVALID_JSON) return error(400, 'MALFORMED_JSON', 'Received JSON is malformed.');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return error(400, 'MALFORMED_JSON', 'Received JSON does not match expected format.');
    const { desc, roles } = body as { desc?: unknown; roles?: unknown };
    if (desc === undefined && roles === undefined)
      return error(400, 'MISSING_ATTRIBUTE', 'This request requires a minimum of one of the two body parameters: desc, roles.', ['desc', 'roles']);
    if (desc !== undefined) {
      if (typeof desc !== 'string') return error(400, 'INVALID_ATTRIBUTE', 'Invalid attribute desc specified.', ['desc']);
      if (desc.length < 1 || desc.length > ATLAS_DESC_MAX)
        return error(400, 'INVALID_API_KEY_DESC', `API key descriptions are required and must be less than ${ATLAS_DESC_MAX} characters.`, [ATLAS_DESC_MAX]);
    }
    if (roles !== undefined) {
      if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string'))
        return error(400, 'INVALID_ATTRIBUTE', 'Invalid attribute roles specified.', ['roles']);
      if (roles.length === 0) return error(400, 'MISSING_API_KEY_ROLES', 'API keys must have at least one role.');
    }
    const key = keys.get(id);
    if (!key) return notFound(id);
    if (roles !== undefined) {
      const valid: ReadonlySet<string> = new Set(ATLAS_ORG_ROLES);
      const bad = (roles as string[]).find((r) => !valid.has(r));
      if (bad !== undefined) return error(400, 'INVALID_ROLE_FOR_ORG', `Role ${bad} invalid for organization ${options.orgId}.`, [bad, options.orgId]);
      // The array replaces the key's roles (vendor-facts §3: the response holds every role it has).
      key.roles = [...new Set(roles as string[])];
    }
    if (desc !== undefined) key.desc = desc as string;
    return { status: 200, json: view(key, version) };
  };

  const expireNonces = () => {
    for (const issued of nonces.values()) issued.expired = true;
  };
  const expireTokens = () => {
    for (const issued of tokens.values()) issued.revoked = true;
  };
  const server = await createSimulatorServer(handle, options.port, {
    controls: { 'expire-nonces': expireNonces, 'expire-tokens': expireTokens },
    ...(options.rateLimit && { rateLimit: { ...options.rateLimit, dialect: ATLAS_RATE_LIMIT } }),
  });
  origin = server.origin;
  return {
    ...server,
    baseUrl: `${server.origin}/api/atlas/v1.0`,
    v2BaseUrl: `${server.origin}/api/atlas/v2`,
    keys,
    expireNonces,
    expireTokens,
    issuedTokens: () => [...tokens.keys()],
    // A token request changes no key.
    writes: () => server.writes().filter((r) => r.path !== ATLAS_TOKEN_PATH),
  };
}

function intParam(req: SimRequest, name: string, fallback: number): number | undefined {
  const raw = req.query.get(name);
  if (raw === null) return fallback;
  return /^\d+$/.test(raw) ? Number(raw) : undefined;
}

/** The Digest `uri` must name the request it came with (RFC 7616 §3.4.6). */
function sameTarget(uri: string, req: SimRequest): boolean {
  const q = uri.indexOf('?');
  const path = q < 0 ? uri : uri.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : uri.slice(q + 1));
  return path === req.path && query.toString() === req.query.toString();
}

/** The `name=value` pairs of an Authorization header (quoted strings may hold commas). */
function parseAuthParams(input: string): Record<string, string | undefined> {
  const params: Record<string, string | undefined> = {};
  const re = /[\s,]*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))/gy;
  while (re.lastIndex < input.length) {
    const m = re.exec(input);
    if (m === null) break;
    const name = m[1].toLowerCase();
    if (!Object.hasOwn(params, name)) params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
  }
  return params;
}

export const ATLAS_DEMO = {
  orgId: '5980cfc70b6d97029d82e3f6',
  publicKey: 'qwmzxbtr',
  privateKey: '9b2e41c7-5d3a-4f86-a1e0-7c4d2b8f0e19',
  /** The sandbox's service account (what keygate recommends). */
  clientId: 'mdb_sa_id_6560b2b1c2d3e4f5a6b7c8d9',
  clientSecret: 'mdb_sa_sk_demo_4f1c9a7e2b6d8035',
  keys: [atlasKey('5c47ba5127d9d61b9fd8a27b', 'CI deploys', ['ORG_MEMBER']), atlasKey('5c47ba5127d9d61b9fd8a27c', 'Billing export', ['ORG_BILLING_READ_ONLY'])],
};

/** A demo key with a generated key pair. */
export function atlasKey(id: string, desc: string, roles: string[], extra: Partial<AtlasApiKey> = {}): AtlasApiKey {
  const publicKey = md5(id).replace(/\d/g, '').slice(0, 8).padEnd(8, 'x');
  return { id, desc, publicKey, privateKey: randomUUID(), roles, ...extra };
}

export async function startAtlasSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createAtlasSimulator({
    orgId: ATLAS_DEMO.orgId,
    apiKeys: { [ATLAS_DEMO.publicKey]: { privateKey: ATLAS_DEMO.privateKey, roles: ['ORG_OWNER'] } },
    serviceAccounts: { [ATLAS_DEMO.clientId]: { clientSecret: ATLAS_DEMO.clientSecret, roles: ['ORG_OWNER'] } },
    keys: ATLAS_DEMO.keys,
    port,
  });
  return {
    simulator,
    // v2 with a service account, as keygate recommends (the API key above still works, on v1.0 and v2).
    connection: { baseUrl: simulator.v2BaseUrl, orgId: ATLAS_DEMO.orgId, clientId: ATLAS_DEMO.clientId, clientSecret: ATLAS_DEMO.clientSecret },
    demoKeyIds: ATLAS_DEMO.keys.map((k) => k.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "5c47ba5127d9d61b9fd8a27b", patch: { name: "CI deploys (rotated)", roles: ["ORG_MEMBER", "ORG_READ_ONLY"] }) { id name roles } }`,
  };
}

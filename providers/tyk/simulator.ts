/**
 * A faithful in-memory Tyk, serving its three key APIs on one origin over one key store:
 *
 * - Dashboard Admin API (seed 003, vendor-facts §4): `Admin-Auth`, `/admin/org/keys/{keyId}`,
 *   KeyData reads, org_id changes refused with 500, `{Status, Message, Meta}` for every answer.
 * - Dashboard API (vendor-facts-2 §2): a user's API key as raw `Authorization`, `/api/keys/{keyId}`
 *   (KeyData), list `/api/apis/keys?p=N` (ids), RBAC (a read-only user gets 403), `{Status, Message, Meta}`.
 * - Gateway API (vendor-facts-2 §2): `X-Tyk-Authorization`, `/tyk/keys/{keyID}` (the session itself),
 *   PUT answered `{key, status: "ok", action: "modified"}`, list `/tyk/keys`, key hashing
 *   (`hashed=true`, hashed listing off unless enabled), `{status, message}` errors.
 *
 * Every PUT REPLACES the whole session (fields absent from the body are gone). The Dashboard and
 * Gateway PUTs reset the key's quota and rate window unless `suppress_reset=1`, as Tyk's
 * `doAddOrUpdate` does. An unparseable PUT body gets 400 "User/Key object validation failed, most
 * likely malformed input." (the Dashboard's answer; the Admin swagger documents none for it).
 */
import { createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse } from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import {
  TYK_DASHBOARD_KEY_NOT_FOUND,
  TYK_GATEWAY_FORBIDDEN,
  TYK_GATEWAY_HASHED_LISTING_OFF,
  TYK_GATEWAY_KEY_NOT_FOUND,
  TYK_GATEWAY_PUT_NOT_FOUND,
  TYK_KEY_NOT_FOUND,
  TYK_KEY_UPDATED,
  TYK_NOT_AUTHORISED,
  TYK_ORG_ID_CHANGE,
  type TykKeyData,
  type TykSessionState,
} from './wire.ts';

export interface TykSimulatorOptions {
  /** Dashboard Admin API: `admin_secret`. */
  adminSecret: string;
  /** Dashboard API: users' API keys; `write: false` is a user whose role may only read keys. */
  dashboardUsers?: Record<string, { write: boolean }>;
  /** Gateway API: tyk.conf `secret`. */
  gatewaySecret?: string;
  /** The gateway hashes keys (`hash_keys`): `hashed=true` addresses a key by its hash. */
  hashKeys?: boolean;
  /** With hashKeys: `enable_hashed_keys_listing` (else the gateway refuses to list). */
  hashedKeysListing?: boolean;
  /** key id -> session */
  keys: Record<string, TykSessionState>;
  port?: number;
}

export interface TykSimulator extends RunningSimulator {
  /** key id -> stored session, for tests to inspect. */
  sessions: Map<string, TykSessionState>;
}

export const TYK_PAGE_SIZE = 10;
const MALFORMED = 'User/Key object validation failed, most likely malformed input.';

const status = (code: number, Status: 'OK' | 'Error', Message: string): SimResponse => ({ status: code, json: { Status, Message, Meta: null } });

const gatewayStatus = (code: number, message: string): SimResponse => ({ status: code, json: { status: 'error', message } });

export async function createTykSimulator(options: TykSimulatorOptions): Promise<TykSimulator> {
  const sessions = new Map(Object.entries(options.keys).map(([id, s]) => [id, structuredClone(s)]));

  const keyData = (id: string, session: TykSessionState): TykKeyData => ({
    api_model: {},
    data: structuredClone(session),
    key_hash: hashOf(id),
    key_id: id,
  });

  const handle = (req: SimRequest): SimResponse => {
    const [a, b, c, d, ...rest] = req.segments;
    if (a === 'admin' && b === 'org' && c === 'keys' && rest.length === 0) return admin(req, d);
    if (a === 'api' && b === 'keys' && c !== undefined && d === undefined) return dashboard(req, c);
    if (a === 'api' && b === 'apis' && c === 'keys' && d === undefined) return dashboardList(req);
    if (a === 'tyk' && b === 'keys' && d === undefined) return gateway(req, c);
    return status(404, 'Error', 'Not Found');
  };

  /** Dashboard Admin API: `Admin-Auth`. */
  const admin = (req: SimRequest, id: string | undefined): SimResponse => {
    // Node lower-cases header names, so `Admin-Auth` and `admin-auth` are the same header.
    if (req.headers['admin-auth'] !== options.adminSecret) return status(401, 'Error', TYK_NOT_AUTHORISED);
    if (req.method === 'GET' && id === undefined) return list(req);
    if (req.method === 'GET') {
      const session = sessions.get(id!);
      return session ? { status: 200, json: keyData(id!, session) } : status(404, 'Error', TYK_KEY_NOT_FOUND);
    }
    if (req.method === 'PUT' && id !== undefined) return put(id, req.body);
    return status(405, 'Error', 'Method Not Allowed');
  };

  /** The Dashboard user a raw `Authorization` key belongs to. */
  const dashboardUser = (req: SimRequest) => {
    const key = req.headers.authorization;
    const users = options.dashboardUsers ?? {};
    return typeof key === 'string' && Object.hasOwn(users, key) ? users[key] : undefined;
  };

  /** Dashboard API: GET/PUT /api/keys/{keyId}. */
  const dashboard = (req: SimRequest, id: string): SimResponse => {
    const user = dashboardUser(req);
    if (!user) return status(401, 'Error', TYK_NOT_AUTHORISED);
    const stored = sessions.get(id);
    if (req.method === 'GET') return stored ? { status: 200, json: keyData(id, stored) } : status(404, 'Error', TYK_DASHBOARD_KEY_NOT_FOUND);
    if (req.method !== 'PUT') return status(405, 'Error', 'Method Not Allowed');
    if (!user.write) return status(403, 'Error', `access denied: You do not have permission to access ${req.path}`);
    if (!stored) return status(404, 'Error', TYK_DASHBOARD_KEY_NOT_FOUND);
    if (!isSessionBody(req.body)) return status(400, 'Error', MALFORMED);
    const next = replaceSession(stored, req.body, req.query.get('suppress_reset') === '1');
    sessions.set(id, next);
    return { status: 200, json: keyData(id, next) };
  };

  /** Dashboard API: GET /api/apis/keys?p=N, key ids only. */
  const dashboardList = (req: SimRequest): SimResponse => {
    if (!dashboardUser(req)) return status(401, 'Error', TYK_NOT_AUTHORISED);
    if (req.method !== 'GET') return status(405, 'Error', 'Method Not Allowed');
    const { slice, pages } = paged(req);
    return { status: 200, json: { data: { keys: slice.map(([id]) => id) }, pages } };
  };

  /** Gateway API: /tyk/keys and /tyk/keys/{keyID}, `X-Tyk-Authorization`. */
  const gateway = (req: SimRequest, ref: string | undefined): SimResponse => {
    if (options.gatewaySecret === undefined || req.headers['x-tyk-authorization'] !== options.gatewaySecret) return gatewayStatus(403, TYK_GATEWAY_FORBIDDEN);
    if (ref === undefined) {
      if (req.method !== 'GET') return gatewayStatus(405, 'Method not supported');
      if (options.hashKeys && !options.hashedKeysListing) return gatewayStatus(404, TYK_GATEWAY_HASHED_LISTING_OFF);
      const ids = [...sessions.keys()];
      return { status: 200, json: { keys: options.hashKeys ? ids.map(hashOf) : ids } };
    }
    const byHash = (req.query.get('hashed') ?? '') !== '';
    if (byHash && !options.hashKeys) return gatewayStatus(400, 'Key requested by hash but key hashing is not enabled');
    const id = byHash ? [...sessions.keys()].find((k) => hashOf(k) === ref) : ref;
    const stored = id === undefined ? undefined : sessions.get(id);
    if (req.method === 'GET') return stored ? { status: 200, json: structuredClone(stored) } : gatewayStatus(404, TYK_GATEWAY_KEY_NOT_FOUND);
    if (req.method !== 'PUT') return gatewayStatus(405, 'Method not supported');
    if (!stored) return gatewayStatus(404, TYK_GATEWAY_PUT_NOT_FOUND);
    if (!isSessionBody(req.body)) return gatewayStatus(400, 'Request malformed');
    sessions.set(id!, replaceSession(stored, req.body, req.query.get('suppress_reset') === '1'));
    return { status: 200, json: { key: ref, status: 'ok', action: 'modified' } };
  };

  const paged = (req: SimRequest) => {
    const p = Number(req.query.get('p') ?? '1');
    const page = Number.isInteger(p) && p >= 1 ? p : 1;
    const all = [...sessions.entries()];
    const pages = Math.max(1, Math.ceil(all.length / TYK_PAGE_SIZE));
    return { slice: all.slice((page - 1) * TYK_PAGE_SIZE, page * TYK_PAGE_SIZE), pages };
  };

  const list = (req: SimRequest): SimResponse => {
    const { slice, pages } = paged(req);
    return { status: 200, json: { data: { keys: slice.map(([id, s]) => keyData(id, s)) }, pages } };
  };

  const put = (id: string, body: unknown): SimResponse => {
    const stored = sessions.get(id);
    if (!stored) return status(404, 'Error', TYK_KEY_NOT_FOUND);
    if (!isSessionBody(body)) return status(400, 'Error', MALFORMED);
    const next = structuredClone(body) as TykSessionState;
    // A body without org_id is a change to "" too, as in Tyk's Go struct.
    if ((next.org_id ?? '') !== (stored.org_id ?? '')) return status(500, 'Error', TYK_ORG_ID_CHANGE);
    // Full replace, exactly as Tyk: whatever the body lacks is gone.
    next.last_updated = String(Math.floor(Date.now() / 1000));
    sessions.set(id, next);
    return status(200, 'OK', TYK_KEY_UPDATED);
  };

  const server = await createSimulatorServer(handle, options.port);
  return { ...server, baseUrl: server.origin, sessions };
}

const isSessionBody = (body: unknown): body is TykSessionState => body !== INVALID_JSON && typeof body === 'object' && body !== null && !Array.isArray(body);

/**
 * The Dashboard and Gateway PUT (tyk gateway/api.go `handleAddOrUpdate`): the body replaces the
 * session. With suppress_reset=1 the stored quota renewal times and `last_updated` are kept;
 * without it the rate window restarts and every quota is refilled (`ResetQuota`).
 */
function replaceSession(stored: TykSessionState, body: TykSessionState, suppressReset: boolean): TykSessionState {
  const next = structuredClone(body);
  const now = Math.floor(Date.now() / 1000);
  if (suppressReset) {
    next.quota_renews = stored.quota_renews;
    next.last_updated = stored.last_updated;
    for (const [apiId, access] of Object.entries(next.access_rights ?? {})) {
      const before = stored.access_rights?.[apiId]?.limit;
      if (access.limit && before) access.limit.quota_renews = before.quota_renews;
    }
    return next;
  }
  next.last_updated = String(now);
  next.quota_remaining = next.quota_max;
  next.quota_renews = now + (next.quota_renewal_rate ?? 0);
  for (const access of Object.values(next.access_rights ?? {}))
    if (access.limit) {
      access.limit.quota_remaining = access.limit.quota_max;
      access.limit.quota_renews = now + (access.limit.quota_renewal_rate ?? 0);
    }
  return next;
}

/** A stable stand-in for Tyk's key hash. */
export function hashOf(id: string): string {
  let h = 0x811c9dc5;
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const ORG = '5e9d9544a1dcd60001d0ed20';

export const TYK_DEMO = {
  adminSecret: 'tyk_demo_admin_secret',
  /** A Dashboard user's API key (what the sandbox connection uses). */
  dashboardKey: 'tyk_demo_dashboard_user_key_5d1e',
  gatewaySecret: 'tyk_demo_gateway_secret_93af',
  orgId: ORG,
  keys: {
    // The seed's example key id: org id + 32 hex.
    [`${ORG}e7f75f9e03534825b7aef9df749582e5`]: demoSession('portal-key', ['edge-eu', 'edge'], {
      hmac_enabled: true,
      hmac_string: 'tyk_demo_hmac_secret_7c1f',
    }),
    [`${ORG}a6f2c3b1d0e94f7a8b6c5d4e3f2a1b0c`]: demoSession('billing-batch', ['batch'], {
      is_inactive: true,
      expires: 1893456000,
      basic_auth_data: { user: 'billing', password: 'tyk_demo_basic_pw_42', hash_type: 'bcrypt' },
    }),
  } as Record<string, TykSessionState>,
};

/** A realistic session: one API with per-API limits, quota, meta_data, policies and tags. */
export function demoSession(alias: string, tags: string[], extra: TykSessionState = {}): TykSessionState {
  return {
    access_rights: {
      '62a0ec9092faf50001395816': {
        api_id: '62a0ec9092faf50001395816',
        api_name: 'Orders API',
        versions: ['Default'],
        allowed_urls: [{ url: '/orders(/.*)?', methods: ['GET', 'POST'] }],
        restricted_types: [],
        allowed_types: [],
        disable_introspection: false,
        field_access_rights: [],
        limit: {
          rate: 100,
          per: 60,
          throttle_interval: -1,
          throttle_retry_limit: -1,
          max_query_depth: -1,
          quota_max: 10000,
          quota_remaining: 9500,
          quota_renewal_rate: 3600,
          quota_renews: 1715847135,
          set_by_policy: false,
          smoothing: null,
        },
        allowance_scope: '',
        endpoints: [{ path: '/orders', methods: [{ name: 'POST', limit: { rate: 10, per: 60 } }] }],
      },
    },
    alias,
    allowance: 1000,
    apply_policies: ['62a0ec9092faf50001395817'],
    basic_auth_data: { user: '', password: '', hash_type: '' },
    certificate: '',
    data_expires: 0,
    date_created: '2024-05-16T08:12:15.000Z',
    enable_detailed_recording: true,
    expires: 0,
    hmac_enabled: false,
    hmac_string: '',
    id_extractor_deadline: 0,
    is_inactive: false,
    jwt_data: { secret: '' },
    last_check: 0,
    last_updated: '1715847135',
    max_query_depth: -1,
    meta_data: { tyk_developer_id: '62b3fb9a1d5e4f00017226f5', team: 'platform' },
    monitor: { trigger_limits: [80, 95] },
    oauth_client_id: '',
    oauth_keys: null,
    org_id: ORG,
    per: 60,
    quota_max: -1,
    quota_remaining: 0,
    quota_renewal_rate: -1,
    quota_renews: 1715847135,
    rate: 1000,
    session_lifetime: 0,
    smoothing: null,
    tags,
    throttle_interval: 0,
    throttle_retry_limit: 0,
    ...extra,
  };
}

export async function startTykSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createTykSimulator({
    adminSecret: TYK_DEMO.adminSecret,
    dashboardUsers: { [TYK_DEMO.dashboardKey]: { write: true } },
    gatewaySecret: TYK_DEMO.gatewaySecret,
    keys: TYK_DEMO.keys,
    port,
  });
  const ids = Object.keys(TYK_DEMO.keys);
  return {
    simulator,
    // The Dashboard API with a user's key, as keygate recommends (the admin and gateway APIs are served too).
    connection: { baseUrl: simulator.baseUrl, api: 'dashboard', apiKey: TYK_DEMO.dashboardKey },
    demoKeyIds: ids,
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "${ids[0]}", patch: { name: "portal-key-v2", enabled: true, setTags: [{ key: "owner-alice" }], tyk: { rate: 500, per: 60 } }) { id name enabled tags { key } expiresAt raw } }`,
  };
}

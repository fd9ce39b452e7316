/**
 * A faithful in-memory Tyk Dashboard Admin API, per seed 003 and vendor-facts §4: `Admin-Auth`
 * secret, KeyData reads, a PUT that REPLACES the whole session (fields absent from the body are
 * gone), org_id changes refused with 500, and `{Status, Message, Meta}` for every answer.
 *
 * An unparseable PUT body gets 400 "User/Key object validation failed, most likely malformed
 * input." (the Dashboard's `PUT /api/keys` answer; the Admin swagger documents none for it).
 */
import { createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse } from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { TYK_KEY_NOT_FOUND, TYK_KEY_UPDATED, TYK_NOT_AUTHORISED, TYK_ORG_ID_CHANGE, type TykKeyData, type TykSessionState } from './wire.ts';

export interface TykSimulatorOptions {
  adminSecret: string;
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

export async function createTykSimulator(options: TykSimulatorOptions): Promise<TykSimulator> {
  const sessions = new Map(Object.entries(options.keys).map(([id, s]) => [id, structuredClone(s)]));

  const keyData = (id: string, session: TykSessionState): TykKeyData => ({
    api_model: {},
    data: structuredClone(session),
    key_hash: hashOf(id),
    key_id: id,
  });

  const handle = (req: SimRequest): SimResponse => {
    const [admin, org, keys, id, ...rest] = req.segments;
    if (admin !== 'admin' || org !== 'org' || keys !== 'keys' || rest.length > 0) return status(404, 'Error', 'Not Found');
    // Node lower-cases header names, so `Admin-Auth` and `admin-auth` are the same header.
    if (req.headers['admin-auth'] !== options.adminSecret) return status(401, 'Error', TYK_NOT_AUTHORISED);
    if (req.method === 'GET' && id === undefined) return list(req);
    if (req.method === 'GET') {
      const session = sessions.get(id);
      return session ? { status: 200, json: keyData(id, session) } : status(404, 'Error', TYK_KEY_NOT_FOUND);
    }
    if (req.method === 'PUT' && id !== undefined) return put(id, req.body);
    return status(405, 'Error', 'Method Not Allowed');
  };

  const list = (req: SimRequest): SimResponse => {
    const p = Number(req.query.get('p') ?? '1');
    const page = Number.isInteger(p) && p >= 1 ? p : 1;
    const all = [...sessions.entries()];
    const pages = Math.max(1, Math.ceil(all.length / TYK_PAGE_SIZE));
    const slice = all.slice((page - 1) * TYK_PAGE_SIZE, page * TYK_PAGE_SIZE);
    return { status: 200, json: { data: { keys: slice.map(([id, s]) => keyData(id, s)) }, pages } };
  };

  const put = (id: string, body: unknown): SimResponse => {
    const stored = sessions.get(id);
    if (!stored) return status(404, 'Error', TYK_KEY_NOT_FOUND);
    if (body === INVALID_JSON || typeof body !== 'object' || body === null || Array.isArray(body)) return status(400, 'Error', MALFORMED);
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

/** A stable stand-in for Tyk's key hash. */
function hashOf(id: string): string {
  let h = 0x811c9dc5;
  for (const c of id) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

const ORG = '5e9d9544a1dcd60001d0ed20';

export const TYK_DEMO = {
  adminSecret: 'tyk_demo_admin_secret',
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
  const simulator = await createTykSimulator({ adminSecret: TYK_DEMO.adminSecret, keys: TYK_DEMO.keys, port });
  const ids = Object.keys(TYK_DEMO.keys);
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, adminSecret: TYK_DEMO.adminSecret },
    demoKeyIds: ids,
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "${ids[0]}", patch: { name: "portal-key-v2", enabled: true, setTags: [{ key: "owner-alice" }], tyk: { rate: 500, per: 60 } }) { id name enabled tags { key } expiresAt raw } }`,
  };
}

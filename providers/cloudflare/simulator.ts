/**
 * A faithful in-memory Cloudflare API tokens API (vendor-facts-2 §5): Bearer tokens allowed to
 * manage user tokens and/or the tokens of given accounts, GET one, list by `page`/`per_page`, and a
 * PUT that replaces the token: `name` (<= 120) and `policies` required, omitted `condition`,
 * `expires_on` and `not_before` cleared, `status` defaulting to active. Every answer is the
 * `{success, errors: [{code, message}], messages, result}` envelope, with a `cf-ray` header.
 */
import { randomBytes } from 'node:crypto';
import {
  bearerToken,
  createSimulatorServer,
  INVALID_JSON,
  type SimRateLimitDialect,
  type SimRateLimitOptions,
  type SimRequest,
  type SimResponse,
} from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { CLOUDFLARE_NAME_MAX, type CloudflareToken } from './wire.ts';

export interface CloudflareSimulatorOptions {
  /** Bearer token -> what it may manage: user tokens, and the tokens of these accounts. */
  credentials: Record<string, { user: boolean; accounts: string[] }>;
  userTokens: CloudflareToken[];
  accountTokens?: Record<string, CloudflareToken[]>;
  port?: number;
  now?: () => Date;
  /** Cloudflare's rate limit (off when absent): Ratelimit and Ratelimit-Policy on every answer, 429 beyond it. */
  rateLimit?: SimRateLimitOptions;
}

export interface CloudflareSimulator extends RunningSimulator {
  userTokens: Map<string, CloudflareToken>;
  accountTokens: Map<string, Map<string, CloudflareToken>>;
}

const envelope = (status: number, result: unknown, errors: { code: number; message: string }[] = [], extra: Record<string, unknown> = {}): SimResponse => ({
  status,
  headers: { 'cf-ray': `${randomBytes(8).toString('hex')}-SJC` },
  json: { success: errors.length === 0, errors, messages: [], result, ...extra },
});
const fail = (status: number, code: number, message: string) => envelope(status, null, [{ code, message }]);

/**
 * vendor-facts-2 §5: `Ratelimit: "default";r=<left>;t=<seconds to reset>` and
 * `Ratelimit-Policy: "default";q=<limit>;w=<window>` on answers; `retry-after` only on the 429.
 */
export const CLOUDFLARE_RATE_LIMIT: SimRateLimitDialect = {
  headers: (w) => ({ ratelimit: `"default";r=${w.remaining};t=${w.resetSeconds}`, 'ratelimit-policy': `"default";q=${w.limit};w=${w.windowSeconds}` }),
  tooMany: (w) => {
    const answer = fail(429, 971, 'Please wait and consider throttling your request speed');
    return { ...answer, headers: { ...answer.headers, 'retry-after': String(w.resetSeconds) } };
  },
};

export async function createCloudflareSimulator(options: CloudflareSimulatorOptions): Promise<CloudflareSimulator> {
  const byId = (list: CloudflareToken[]) => new Map(list.map((t) => [t.id, structuredClone(t)]));
  const userTokens = byId(options.userTokens);
  const accountTokens = new Map(Object.entries(options.accountTokens ?? {}).map(([a, list]) => [a, byId(list)]));
  const now = options.now ?? (() => new Date());

  const handle = (req: SimRequest): SimResponse => {
    const segs = req.segments;
    if (segs[0] !== 'client' || segs[1] !== 'v4') return fail(404, 7000, 'No route for that URI');
    const rest = segs.slice(2);
    let store: Map<string, CloudflareToken> | undefined;
    let id: string | undefined;
    let scope: { user: boolean; account?: string };
    if (rest[0] === 'user' && rest[1] === 'tokens' && rest.length <= 3) {
      scope = { user: true };
      id = rest[2];
      store = userTokens;
    } else if (rest[0] === 'accounts' && rest[2] === 'tokens' && rest.length <= 4) {
      scope = { user: false, account: rest[1] };
      id = rest[3];
      store = accountTokens.get(rest[1]);
    } else return fail(404, 7000, 'No route for that URI');
    const token = bearerToken(req);
    const credential = token === undefined ? undefined : options.credentials[token];
    if (!credential) return fail(403, 9109, 'Invalid access token');
    if (scope.user ? !credential.user : !credential.accounts.includes(scope.account!)) return fail(403, 10000, 'Authentication error');
    if (!store) return fail(404, 7003, `Could not route to ${req.path}, perhaps your object identifier is invalid?`);

    if (req.method === 'GET' && id === undefined) {
      const page = Number(req.query.get('page') ?? 1);
      const perPage = Number(req.query.get('per_page') ?? 20);
      if (!Number.isInteger(page) || page < 1 || !Number.isInteger(perPage) || perPage < 5 || perPage > 50)
        return fail(400, 1001, 'Invalid pagination parameters');
      const all = [...store.values()];
      return envelope(200, all.slice((page - 1) * perPage, page * perPage), [], {
        result_info: { page, per_page: perPage, count: Math.max(0, Math.min(perPage, all.length - (page - 1) * perPage)), total_count: all.length },
      });
    }
    if (id === undefined) return fail(405, 10405, 'Method not allowed');
    const current = store.get(id);
    if (req.method === 'GET')
      return current ? envelope(200, current) : fail(404, 7003, `Could not route to ${req.path}, perhaps your object identifier is invalid?`);
    if (req.method !== 'PUT') return fail(405, 10405, 'Method not allowed');
    if (!current) return fail(404, 7003, `Could not route to ${req.path}, perhaps your object identifier is invalid?`);
    const body = req.body;
    if (body === INVALID_JSON || typeof body !== 'object' || body === null || Array.isArray(body)) return fail(400, 6007, 'Malformed JSON in request body');
    const b = body as Record<string, unknown>;
    if (typeof b.name !== 'string' || b.name.length === 0 || b.name.length > CLOUDFLARE_NAME_MAX)
      return fail(400, 1001, `name: must be 1..${CLOUDFLARE_NAME_MAX} characters`);
    if (!Array.isArray(b.policies) || b.policies.length === 0) return fail(400, 1001, 'policies: at least one policy is required');
    for (const p of b.policies as Record<string, unknown>[])
      if (
        typeof p !== 'object' ||
        p === null ||
        (p.effect !== 'allow' && p.effect !== 'deny') ||
        !Array.isArray(p.permission_groups) ||
        typeof p.resources !== 'object'
      )
        return fail(400, 1001, 'policies: each policy needs effect (allow|deny), permission_groups and resources');
    if (b.status !== undefined && !['active', 'disabled', 'expired'].includes(b.status as string))
      return fail(400, 1001, 'status: must be active, disabled or expired');
    for (const f of ['expires_on', 'not_before'])
      if (b[f] !== undefined && b[f] !== null && (typeof b[f] !== 'string' || Number.isNaN(Date.parse(b[f] as string))))
        return fail(400, 1001, `${f}: must be a date-time`);
    // A full replace: what the body omits is gone.
    const next: CloudflareToken = {
      id: current.id,
      name: b.name,
      status: (b.status as CloudflareToken['status']) ?? 'active',
      policies: structuredClone(b.policies) as CloudflareToken['policies'],
      ...(b.condition != null && { condition: structuredClone(b.condition) as CloudflareToken['condition'] }),
      expires_on: (b.expires_on as string | undefined) ?? null,
      not_before: (b.not_before as string | undefined) ?? null,
      issued_on: current.issued_on,
      modified_on: now().toISOString(),
      last_used_on: current.last_used_on ?? null,
    };
    store.set(id, next);
    return envelope(200, next);
  };

  const server = await createSimulatorServer(handle, options.port, {
    ...(options.rateLimit && { rateLimit: { ...options.rateLimit, dialect: CLOUDFLARE_RATE_LIMIT } }),
  });
  return { ...server, baseUrl: `${server.origin}/client/v4`, userTokens, accountTokens };
}

export function cloudflareToken(id: string, name: string, extra: Partial<CloudflareToken> = {}): CloudflareToken {
  return {
    id,
    name,
    status: 'active',
    policies: [
      {
        id: 'f267e341f3dd4697bd3b9f71dd96247f',
        effect: 'allow',
        permission_groups: [{ id: 'c8fed203ed3043cba015a93ad1616f1f', name: 'Zone Read' }],
        resources: { 'com.cloudflare.api.account.zone.*': '*' },
      },
    ],
    condition: { request_ip: { in: ['192.0.2.0/24'] } },
    expires_on: '2027-01-01T00:00:00Z',
    not_before: null,
    issued_on: '2026-01-01T00:00:00Z',
    modified_on: '2026-01-01T00:00:00Z',
    last_used_on: null,
    ...extra,
  };
}

export const CLOUDFLARE_DEMO = {
  token: 'cf_demo_tokens_write_sandbox_only_000000',
  tokens: [cloudflareToken('ed17574386854bf78a67040be0a770b0', 'Zone read (CI)'), cloudflareToken('4a3c0bd1b26e4cf18f62b5d42ec8a1f3', 'DNS edit (ops)')],
};

export async function startCloudflareSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createCloudflareSimulator({
    credentials: { [CLOUDFLARE_DEMO.token]: { user: true, accounts: [] } },
    userTokens: CLOUDFLARE_DEMO.tokens,
    port,
  });
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, token: CLOUDFLARE_DEMO.token },
    demoKeyIds: CLOUDFLARE_DEMO.tokens.map((t) => t.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "ed17574386854bf78a67040be0a770b0", patch: { enabled: false, cloudflare: { condition: { request_ip: { in: ["198.51.100.0/24"] } } } }) { id name enabled expiresAt raw } }`,
  };
}

/**
 * A faithful in-memory SendGrid `/v3/api_keys` (vendor-facts-2 §3): Bearer keys with scopes
 * (`api_keys.update` to write, `api_keys.read` to read), `on-behalf-of` selecting a subuser's keys,
 * PATCH `{name}` (name required), PUT `{name, scopes}` (both required; scopes replace the set),
 * GET one as `{result: [key]}` (or flat, as some answers are), list `{result: [{name, api_key_id}]}`
 * with `limit`, 406 without a JSON Accept, and `{errors: [{field, message}]}` for every failure.
 */
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
import type { SendGridApiKey } from './wire.ts';

export interface SendGridSimulatorOptions {
  /** token -> its scopes */
  tokens: Record<string, string[]>;
  /** The parent account's keys, and each subuser's (by username). */
  keys: SendGridApiKey[];
  subusers?: Record<string, SendGridApiKey[]>;
  /** Answer a single-key GET flat instead of `{result: [key]}`. */
  flatGet?: boolean;
  port?: number;
  /** SendGrid's rate limit (off when absent): X-RateLimit-* on every answer, 429 beyond it. */
  rateLimit?: SimRateLimitOptions;
}

export interface SendGridSimulator extends RunningSimulator {
  keys: Map<string, SendGridApiKey>;
  subuserKeys: Map<string, Map<string, SendGridApiKey>>;
}

const errors = (status: number, message: string, field: string | null = null): SimResponse => ({ status, json: { errors: [{ field, message, help: null }] } });

/** vendor-facts-2 §3: X-RateLimit-Limit, -Remaining and -Reset (a Unix time); the 429 has no Retry-After. */
export const SENDGRID_RATE_LIMIT: SimRateLimitDialect = {
  headers: (w) => ({ 'x-ratelimit-limit': String(w.limit), 'x-ratelimit-remaining': String(w.remaining), 'x-ratelimit-reset': String(w.resetAt) }),
  tooMany: () => ({ status: 429, json: { errors: [{ field: null, message: 'too many requests' }] } }),
};

export async function createSendGridSimulator(options: SendGridSimulatorOptions): Promise<SendGridSimulator> {
  const byId = (list: SendGridApiKey[]) => new Map(list.map((k) => [k.api_key_id, structuredClone(k)]));
  const keys = byId(options.keys);
  const subuserKeys = new Map(Object.entries(options.subusers ?? {}).map(([name, list]) => [name, byId(list)]));

  const handle = (req: SimRequest): SimResponse => {
    const [version, resource, id, ...rest] = req.segments;
    if (version !== 'v3' || resource !== 'api_keys' || rest.length > 0) return errors(404, 'resource not found');
    const token = bearerToken(req);
    const scopes = token === undefined ? undefined : options.tokens[token];
    if (!scopes) return errors(401, 'Permission denied, wrong credentials');
    const accept = req.headers.accept;
    if (!accept || !/application\/json|\*\/\*/.test(accept)) return errors(406, 'Accept header must be application/json');
    const onBehalfOf = req.headers['on-behalf-of'];
    const store = typeof onBehalfOf === 'string' ? subuserKeys.get(onBehalfOf) : keys;
    if (!store) return errors(401, 'Permission denied, wrong credentials');
    const need = req.method === 'GET' ? 'api_keys.read' : 'api_keys.update';
    if (!scopes.includes(need)) return errors(403, 'access forbidden');

    if (req.method === 'GET' && id === undefined) {
      const limit = Number(req.query.get('limit') ?? 50);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) return errors(400, 'limit must be an integer between 1 and 500', 'limit');
      return { status: 200, json: { result: [...store.values()].slice(0, limit).map(({ name, api_key_id }) => ({ name, api_key_id })) } };
    }
    if (id === undefined) return errors(405, 'method not allowed');
    const key = store.get(id);
    if (req.method === 'GET') {
      if (!key) return errors(404, 'unable to find API key');
      return { status: 200, json: options.flatGet ? key : { result: [key] } };
    }
    if (req.method !== 'PATCH' && req.method !== 'PUT') return errors(405, 'method not allowed');
    const body = req.body;
    if (body === INVALID_JSON || typeof body !== 'object' || body === null || Array.isArray(body)) return errors(400, 'invalid JSON body');
    const { name, scopes: newScopes } = body as { name?: unknown; scopes?: unknown };
    if (typeof name !== 'string' || name === '') return errors(400, 'missing required argument', 'name');
    if (req.method === 'PUT' && (!Array.isArray(newScopes) || newScopes.length === 0 || !newScopes.every((s) => typeof s === 'string')))
      return errors(400, 'a scopes array containing at least one scope is required', 'scopes');
    if (!key) return errors(404, 'unable to find API key');
    key.name = name;
    if (req.method === 'PATCH') return { status: 200, json: { api_key_id: key.api_key_id, name: key.name } };
    key.scopes = [...(newScopes as string[])];
    return { status: 200, json: { api_key_id: key.api_key_id, name: key.name, scopes: key.scopes } };
  };

  const server = await createSimulatorServer(handle, options.port, {
    ...(options.rateLimit && { rateLimit: { ...options.rateLimit, dialect: SENDGRID_RATE_LIMIT } }),
  });
  return { ...server, baseUrl: `${server.origin}/v3`, keys, subuserKeys };
}

export const SENDGRID_DEMO = {
  token: 'SG.demo_admin_key.sandbox_only_0123456789',
  keys: [
    { api_key_id: 'qfTQ6KG0QBiwWdJ0-pCLCA', name: 'Transactional mail', scopes: ['mail.send'] },
    { api_key_id: 'Zt9xQ2LmNbVc8RsTuWyA1g', name: 'Marketing sync', scopes: ['marketing.read', 'marketing.send'] },
  ] satisfies SendGridApiKey[],
};

export async function startSendGridSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createSendGridSimulator({ tokens: { [SENDGRID_DEMO.token]: ['api_keys.read', 'api_keys.update'] }, keys: SENDGRID_DEMO.keys, port });
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, token: SENDGRID_DEMO.token },
    demoKeyIds: SENDGRID_DEMO.keys.map((k) => k.api_key_id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "qfTQ6KG0QBiwWdJ0-pCLCA", patch: { roles: ["mail.send", "stats.read"] }) { id name roles } }`,
  };
}

/**
 * A faithful in-memory Mesa (Depot API v1), per seed 000 and vendor-facts §1:
 * Bearer API keys with scopes (admin needed), tag merge with null removal, lowercased keys,
 * length limits, and `{error: {code, message, details?, trace_id?}}` for every failure.
 */
import { randomUUID } from 'node:crypto';
import { bearerToken, createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse } from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { MESA_TAG_KEY_MAX, MESA_TAG_VALUE_MAX, type MesaApiKey } from './wire.ts';

export interface MesaSimulatorOptions {
  org: string;
  /** token -> scopes (read | write | admin) */
  tokens: Record<string, string[]>;
  keys: MesaApiKey[];
  port?: number;
}

export interface MesaSimulator extends RunningSimulator {
  keys: Map<string, MesaApiKey>;
}

const error = (status: number, code: string, message: string, details?: Record<string, unknown>): SimResponse => ({
  status,
  json: { error: { code, message, ...(details && { details }), ...(status >= 500 && { trace_id: randomUUID() }) } },
});

export async function createMesaSimulator(options: MesaSimulatorOptions): Promise<MesaSimulator> {
  const keys = new Map(options.keys.map((k) => [k.id, structuredClone(k)]));

  const handle = (req: SimRequest): SimResponse => {
    const [version, org, resource, id, ...rest] = req.segments;
    if (version !== 'v1' || resource !== 'api-keys' || rest.length > 0) return error(404, 'NOT_FOUND', 'Route not found');
    const token = bearerToken(req);
    const scopes = token === undefined ? undefined : options.tokens[token];
    if (!scopes) return error(401, 'UNAUTHORIZED', 'Missing or invalid API key');
    if (!scopes.includes('admin')) return error(403, 'FORBIDDEN', "This operation requires the 'admin' scope");
    if (org !== options.org) return error(404, 'ORG_NOT_FOUND', `Organization '${org}' not found`);
    const accept = req.headers.accept;
    if (accept && !/application\/json|\*\/\*/.test(accept)) return error(406, 'NOT_ACCEPTABLE', 'Only application/json responses are available');

    if (req.method === 'GET' && id === undefined) return list(req);
    if (req.method === 'PATCH' && id !== undefined) return patch(id, req.body);
    return error(404, 'NOT_FOUND', 'Route not found');
  };

  const list = (req: SimRequest): SimResponse => {
    const limitRaw = req.query.get('limit');
    const limit = limitRaw === null ? 20 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100)
      return error(400, 'VALIDATION_ERROR', 'limit must be an integer between 1 and 100', { field: 'limit' });
    const all = [...keys.values()];
    const cursor = req.query.get('cursor');
    const start = cursor ? Number(Buffer.from(cursor, 'base64url').toString()) : 0;
    if (!Number.isInteger(start) || start < 0) return error(400, 'INVALID_CURSOR', 'cursor is not valid');
    const page = all.slice(start, start + limit);
    const next = start + limit;
    const hasMore = next < all.length;
    return {
      status: 200,
      json: { api_keys: page, has_more: hasMore, next_cursor: hasMore ? Buffer.from(String(next)).toString('base64url') : null },
    };
  };

  const patch = (id: string, body: unknown): SimResponse => {
    if (body === INVALID_JSON) return error(400, 'INVALID_JSON', 'Request body is not valid JSON');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return error(400, 'VALIDATION_ERROR', 'Request body must be an object');
    const tags = (body as { tags?: unknown }).tags;
    if (typeof tags !== 'object' || tags === null || Array.isArray(tags))
      return error(400, 'VALIDATION_ERROR', "Field 'tags' is required and must be an object", { field: 'tags' });
    for (const [k, v] of Object.entries(tags)) {
      if (k.length > MESA_TAG_KEY_MAX)
        return error(400, 'VALIDATION_ERROR', `Tag key '${k.slice(0, 16)}…' exceeds ${MESA_TAG_KEY_MAX} characters`, { field: `tags.${k}` });
      if (v !== null && typeof v !== 'string') return error(400, 'VALIDATION_ERROR', `Tag '${k}' must be a string or null`, { field: `tags.${k}` });
      if (typeof v === 'string' && v.length > MESA_TAG_VALUE_MAX)
        return error(400, 'VALIDATION_ERROR', `Tag '${k}' value exceeds ${MESA_TAG_VALUE_MAX} characters`, { field: `tags.${k}` });
    }
    const key = keys.get(id);
    if (!key) return error(404, 'API_KEY_NOT_FOUND', `API key '${id}' not found`);
    if (key.revoked_at) return error(409, 'API_KEY_REVOKED', `API key '${id}' is revoked and cannot be changed`);
    for (const [k, v] of Object.entries(tags as Record<string, string | null>)) {
      if (v === null) delete key.tags[k.toLowerCase()];
      else key.tags[k.toLowerCase()] = v;
    }
    return { status: 200, json: { tags: key.tags } };
  };

  const server = await createSimulatorServer(handle, options.port);
  return { ...server, baseUrl: `${server.origin}/v1`, keys };
}

export const MESA_DEMO = {
  org: 'acme',
  token: 'mesa_demo_admin_token',
  keys: [demoKey('key_demo_ci', 'CI deploys', { env: 'prod', team: 'platform' }), demoKey('key_demo_analytics', 'Analytics export', { env: 'staging' })],
};

export function demoKey(id: string, name: string, tags: Record<string, string>, extra: Partial<MesaApiKey> = {}): MesaApiKey {
  return {
    id,
    name,
    scopes: ['admin'],
    repo_ids: null,
    metadata: {},
    tags,
    last_used_at: null,
    expires_at: null,
    revoked_at: null,
    created_at: '2026-01-15T09:30:00Z',
    ...extra,
  };
}

export async function startMesaSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createMesaSimulator({ org: MESA_DEMO.org, tokens: { [MESA_DEMO.token]: ['admin'] }, keys: MESA_DEMO.keys, port });
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, org: MESA_DEMO.org, token: MESA_DEMO.token },
    demoKeyIds: MESA_DEMO.keys.map((k) => k.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "key_demo_ci", patch: { setTags: [{ key: "owner", value: "alice" }], removeTags: ["team"] }) { id tags { key value } } }`,
  };
}

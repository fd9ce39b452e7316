/**
 * A small fake of "Acme Keys", the vendor of docs/adding-a-vendor-in-config.md's worked example:
 * header auth, PATCH with label merge, single-key read, cursor list, `{error: {code, message, request_id}}`.
 */
import { createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse, type SimulatorServer } from '../sandbox/simulator-kit.ts';

export interface AcmeKey {
  id: string;
  label: string;
  disabled: boolean;
  labels: Record<string, string>;
  expires_at: string | null;
  updated_at: string;
  secret: string;
}

export interface FakeAcme extends SimulatorServer {
  keys: Map<string, AcmeKey>;
}

const error = (status: number, code: string, message: string): SimResponse => ({ status, json: { error: { code, message, request_id: `req_${code}` } } });

export async function createFakeAcme(org: string, token: string, keys: AcmeKey[]): Promise<FakeAcme> {
  const store = new Map(keys.map((k) => [k.id, structuredClone(k)]));
  const handle = (req: SimRequest): SimResponse => {
    if (req.headers['x-acme-token'] !== token) return error(401, 'unauthenticated', 'bad token');
    const [orgs, o, resource, id, ...rest] = req.segments;
    if (orgs !== 'orgs' || o !== org || resource !== 'keys' || rest.length) return error(404, 'route_not_found', 'no such route');
    if (req.method === 'GET' && id === undefined) {
      const all = [...store.values()];
      const per = Number(req.query.get('per_page') ?? 2);
      const start = Number(req.query.get('cursor') ?? 0);
      const page = all.slice(start, start + per);
      return { status: 200, json: { keys: page, next_cursor: start + per < all.length ? String(start + per) : null } };
    }
    const key = id === undefined ? undefined : store.get(id);
    if (!key) return error(404, 'key_not_found', `key ${id} not found`);
    if (req.method === 'GET') return { status: 200, json: { key } };
    // POST is the same change (as some vendors write it); keygate must not retry it.
    if (req.method !== 'PATCH' && req.method !== 'POST') return error(405, 'method_not_allowed', 'no');
    if (req.body === INVALID_JSON || typeof req.body !== 'object' || req.body === null) return error(400, 'invalid_json', 'body must be an object');
    const body = req.body as Record<string, unknown>;
    if (key.label === 'locked') return error(409, 'key_locked', 'key is locked');
    if (typeof body.label === 'string') key.label = body.label;
    if (typeof body.disabled === 'boolean') key.disabled = body.disabled;
    if (typeof body.expires_at === 'string') key.expires_at = body.expires_at;
    if (body.labels && typeof body.labels === 'object')
      for (const [k, v] of Object.entries(body.labels as Record<string, string | null>)) {
        if (v === null) delete key.labels[k];
        else key.labels[k] = v;
      }
    key.updated_at = '2026-03-01T10:00:00.000Z';
    return { status: 200, json: { key } };
  };
  const server = await createSimulatorServer(handle);
  return { ...server, keys: store };
}

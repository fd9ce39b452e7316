/**
 * A small fake of "Acme Keys", the vendor of docs/adding-a-vendor-in-config.md's worked example:
 * header auth, PATCH with label merge, single-key read, cursor list, `{error: {code, message, request_id}}`.
 * With `oauth`, also an OAuth 2.0 client-credentials token endpoint (`POST /oauth/token`, HTTP Basic
 * clientId:clientSecret) whose tokens the API accepts as `Authorization: Bearer`.
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
  /** Tokens the token endpoint issued, in order. */
  issued: string[];
}

const error = (status: number, code: string, message: string): SimResponse => ({ status, json: { error: { code, message, request_id: `req_${code}` } } });

export async function createFakeAcme(org: string, token: string, keys: AcmeKey[], oauth?: { clientId: string; clientSecret: string }): Promise<FakeAcme> {
  const store = new Map(keys.map((k) => [k.id, structuredClone(k)]));
  const issued: string[] = [];
  const handle = (req: SimRequest): SimResponse => {
    if (oauth && req.path === '/oauth/token') {
      const basic = `Basic ${Buffer.from(`${oauth.clientId}:${oauth.clientSecret}`).toString('base64')}`;
      if (req.method !== 'POST' || req.headers.authorization !== basic) return { status: 401, json: { error: 'invalid_client' } };
      if (new URLSearchParams(req.rawBody).get('grant_type') !== 'client_credentials') return { status: 400, json: { error: 'unsupported_grant_type' } };
      const access = `acme_oauth_token_${issued.length + 1}`;
      issued.push(access);
      return { status: 200, json: { access_token: access, token_type: 'Bearer', expires_in: 3600 } };
    }
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    if (req.headers['x-acme-token'] !== token && !(bearer && issued.includes(bearer))) return error(401, 'unauthenticated', 'bad token');
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
  return { ...server, keys: store, issued };
}

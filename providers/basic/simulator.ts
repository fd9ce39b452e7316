/**
 * A faithful in-memory Basic.tech Admin API, per seed 001 and vendor-facts §2:
 * Bearer tokens valid per project, PATCH of `{label?, roles?}` with `minProperties: 1`, roles kept
 * as one comma-separated string, `{error, message}` for 400/401 and bare `{error}` for 404.
 */
import { bearerToken, createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse } from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import type { BasicKey } from './wire.ts';

export interface BasicSimulatorOptions {
  /** project id -> the Bearer tokens (JWTs or project API keys) allowed on it */
  projects: Record<string, { tokens: string[] }>;
  /** project id -> its keys */
  keys: Record<string, BasicKey[]>;
  port?: number;
}

export interface BasicSimulator extends RunningSimulator {
  /** project id -> key id -> key */
  keys: Map<string, Map<string, BasicKey>>;
}

const badRequest = (message: string): SimResponse => ({ status: 400, json: { error: 'bad_request', message } });
const notFound: SimResponse = { status: 404, json: { error: 'API key not found' } };
const routeNotFound: SimResponse = { status: 404, json: { error: 'Not found' } };

export async function createBasicSimulator(options: BasicSimulatorOptions): Promise<BasicSimulator> {
  const keys = new Map<string, Map<string, BasicKey>>();
  for (const [project, list] of Object.entries(options.keys)) keys.set(project, new Map(list.map((k) => [k.id, structuredClone(k)])));

  const handle = (req: SimRequest): SimResponse => {
    const [resource, project, sub, keyId, ...rest] = req.segments;
    if (resource !== 'project' || sub !== 'key' || keyId === undefined || rest.length > 0) return routeNotFound;
    const token = bearerToken(req);
    if (token === undefined) return { status: 401, json: { error: 'unauthorized', message: 'Missing Authorization header' } };
    if (!options.projects[project]?.tokens.includes(token))
      return { status: 401, json: { error: 'unauthorized', message: 'Invalid or expired token for this project' } };
    if (req.method === 'GET') return read(project, keyId);
    if (req.method === 'PATCH') return patch(project, keyId, req.body);
    return routeNotFound;
  };

  const read = (project: string, keyId: string): SimResponse => {
    const key = keys.get(project)?.get(keyId);
    if (!key) return notFound;
    return { status: 200, json: { key: { id: key.id, label: key.label, roles: key.roles, created_at: key.created_at } } };
  };

  const patch = (project: string, keyId: string, body: unknown): SimResponse => {
    if (body === INVALID_JSON) return badRequest('Body is not valid JSON');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest('body must be object');
    const { label, roles } = body as { label?: unknown; roles?: unknown };
    if (Object.keys(body).length < 1) return badRequest('body must NOT have fewer than 1 properties');
    if (label !== undefined && typeof label !== 'string') return badRequest('body/label must be string');
    if (roles !== undefined && typeof roles !== 'string') return badRequest('body/roles must be string');
    if (label === undefined && roles === undefined) return badRequest('At least one of label or roles is required');
    const key = keys.get(project)?.get(keyId);
    if (!key) return notFound;
    if (label !== undefined) key.label = label;
    if (roles !== undefined) key.roles = roles;
    key.updated_at = new Date().toISOString();
    return { status: 200, json: { key: { id: key.id, label: key.label, roles: key.roles, updated_at: key.updated_at } } };
  };

  const server = await createSimulatorServer(handle, options.port);
  return { ...server, baseUrl: server.origin, keys };
}

export const BASIC_DEMO = {
  project: '6f1c2a9e-4b7d-4e21-9c3a-2d8f5b7e1a04',
  token: 'basic_demo_project_token',
  keys: [basicKey('0b5e8c1d-3f2a-4a6b-8e9d-7c1f2a3b4c5d', 'Mobile app', 'read,write'), basicKey('9d4c3b2a-1e0f-4a8b-9c7d-6e5f4a3b2c1d', 'Reporting', 'read')],
};

export function basicKey(id: string, label: string, roles: string, extra: Partial<BasicKey> = {}): BasicKey {
  return { id, label, roles, created_at: '2026-02-03T10:00:00.000Z', ...extra };
}

export async function startBasicSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createBasicSimulator({
    projects: { [BASIC_DEMO.project]: { tokens: [BASIC_DEMO.token] } },
    keys: { [BASIC_DEMO.project]: BASIC_DEMO.keys },
    port,
  });
  const [first] = BASIC_DEMO.keys;
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, project: BASIC_DEMO.project, token: BASIC_DEMO.token },
    demoKeyIds: BASIC_DEMO.keys.map((k) => k.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "${first.id}", patch: { name: "Mobile app (v2)", roles: ["read", "write", "admin"] }) { id name roles updatedAt } }`,
  };
}

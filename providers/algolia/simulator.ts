/**
 * A faithful in-memory Algolia `/1/keys` (vendor-facts-2 §7): `x-algolia-application-id` and
 * `x-algolia-api-key` (the admin key for update and list; any other key may GET only itself, its
 * description shown as `<redacted>`), a PUT that replaces the key (unspecified attributes reset to
 * their defaults, unknown attributes refused, `acl` required) and answers `{key, updatedAt}` only,
 * GET `{value, createdAt, …}` (optionally still the old key for a few reads after a change, as
 * Algolia applies changes with a delay), an unpaginated list whose items carry the usable keys, and
 * `{message, status}` failures.
 */
import { createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse } from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { ALGOLIA_ACL, ALGOLIA_DEFAULTS, type AlgoliaKey } from './wire.ts';

export interface AlgoliaSimulatorOptions {
  applicationId: string;
  adminKey: string;
  keys: AlgoliaKey[];
  port?: number;
  now?: () => Date;
  /** Algolia applies a change with a delay: after a PUT, this many GETs of that key still show it as before (default 0). */
  staleReads?: number;
}

export interface AlgoliaSimulator extends RunningSimulator {
  keys: Map<string, AlgoliaKey>;
}

const fail = (status: number, message: string): SimResponse => ({ status, json: { message, status } });
const ARRAYS = ['acl', 'indexes', 'referers'];
const INTEGERS = ['maxHitsPerQuery', 'maxQueriesPerIPPerHour', 'validity'];

export async function createAlgoliaSimulator(options: AlgoliaSimulatorOptions): Promise<AlgoliaSimulator> {
  const keys = new Map(options.keys.map((k) => [k.value, structuredClone(k)]));
  const now = options.now ?? (() => new Date());
  /** key -> the version reads still see, and how many more reads see it. */
  const stale = new Map<string, { key: AlgoliaKey; reads: number }>();
  const visible = (id: string): AlgoliaKey | undefined => {
    const old = stale.get(id);
    if (!old) return keys.get(id);
    if (--old.reads <= 0) stale.delete(id);
    return old.key;
  };

  const handle = (req: SimRequest): SimResponse => {
    const [version, resource, id, ...rest] = req.segments;
    if (version !== '1' || resource !== 'keys' || rest.length > 0) return fail(404, 'Path not found');
    const apiKey = req.headers['x-algolia-api-key'];
    if (req.headers['x-algolia-application-id'] !== options.applicationId || typeof apiKey !== 'string') return fail(403, 'Invalid Application-ID or API key');
    const admin = apiKey === options.adminKey;
    if (!admin && !keys.has(apiKey)) return fail(403, 'Invalid Application-ID or API key');
    if (req.method === 'GET' && id !== undefined && !admin) {
      if (id !== apiKey) return fail(403, 'Method not allowed with this API key');
      return { status: 200, json: { ...visible(id), description: '<redacted>' } };
    }
    if (!admin) return fail(403, 'Method not allowed with this API key');
    if (req.method === 'GET' && id === undefined) return { status: 200, json: { keys: [...keys.values()] } };
    if (id === undefined) return fail(404, 'Path not found');
    const key = keys.get(id);
    if (req.method === 'GET') return key ? { status: 200, json: visible(id) } : fail(404, 'Key does not exist');
    if (req.method !== 'PUT') return fail(404, 'Path not found');
    const body = req.body;
    if (body === INVALID_JSON || typeof body !== 'object' || body === null || Array.isArray(body)) return fail(400, 'Invalid JSON');
    const b = body as Record<string, unknown>;
    for (const field of Object.keys(b)) if (!(field === 'acl' || field in ALGOLIA_DEFAULTS)) return fail(400, `Invalid attribute: ${field}`);
    if (!Array.isArray(b.acl)) return fail(400, 'acl is required');
    for (const a of b.acl) if (!ALGOLIA_ACL.includes(a as string)) return fail(400, `Invalid acl: ${String(a)}`);
    for (const f of ARRAYS)
      if (b[f] !== undefined && (!Array.isArray(b[f]) || !(b[f] as unknown[]).every((v) => typeof v === 'string')))
        return fail(400, `${f} must be an array of strings`);
    for (const f of INTEGERS)
      if (b[f] !== undefined && (!Number.isSafeInteger(b[f]) || (b[f] as number) < 0)) return fail(400, `${f} must be a positive integer`);
    for (const f of ['description', 'queryParameters']) if (b[f] !== undefined && typeof b[f] !== 'string') return fail(400, `${f} must be a string`);
    if (!key) return fail(404, 'Key does not exist');
    if (options.staleReads) stale.set(id, { key: structuredClone(key), reads: options.staleReads });
    // Replaces the key: what the body does not give goes back to its default.
    keys.set(id, {
      value: key.value,
      createdAt: key.createdAt,
      ...structuredClone(ALGOLIA_DEFAULTS),
      ...(structuredClone(b) as Partial<AlgoliaKey>),
      acl: [...(b.acl as string[])],
    });
    return { status: 200, json: { key: id, updatedAt: now().toISOString() } };
  };

  const server = await createSimulatorServer(handle, options.port);
  return { ...server, baseUrl: server.origin, keys };
}

export function algoliaKey(value: string, description: string, extra: Partial<AlgoliaKey> = {}): AlgoliaKey {
  return { value, createdAt: 1767225600, acl: ['search'], ...structuredClone(ALGOLIA_DEFAULTS), description, ...extra };
}

export const ALGOLIA_DEMO = {
  applicationId: 'DEMOAPP123',
  adminKey: 'algolia_demo_admin_key_sandbox_only_0000',
  keys: [
    algoliaKey('13ad45b4d0a2f6ea65ecbddf6aa260f2', 'Storefront search', {
      indexes: ['products'],
      referers: ['https://shop.example.com/*'],
      maxQueriesPerIPPerHour: 1000,
    }),
    algoliaKey('8f1e2d3c4b5a69788796a5b4c3d2e1f0', 'Catalog indexer', { acl: ['addObject', 'deleteObject', 'editSettings'], indexes: ['products'] }),
  ],
};

export async function startAlgoliaSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createAlgoliaSimulator({ applicationId: ALGOLIA_DEMO.applicationId, adminKey: ALGOLIA_DEMO.adminKey, keys: ALGOLIA_DEMO.keys, port });
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, applicationId: ALGOLIA_DEMO.applicationId, apiKey: ALGOLIA_DEMO.adminKey },
    demoKeyIds: ALGOLIA_DEMO.keys.map((k) => k.value),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "13ad45b4d0a2f6ea65ecbddf6aa260f2", patch: { roles: ["search", "browse"], algolia: { maxHitsPerQuery: 50 } }) { id name roles raw } }`,
  };
}

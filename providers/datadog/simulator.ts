/**
 * A faithful in-memory Datadog `/api/v2/api_keys` (vendor-facts-2 §4): `DD-API-KEY` +
 * `DD-APPLICATION-KEY` (the app key's scopes: `api_keys_read`, `api_keys_write`), JSON:API PATCH
 * with `name` required and `data.id` matching the path, answers carrying the full `key`, list pages
 * by `page[size]` (<= 100) and `page[number]` without `key`, and `{errors: [string]}` failures.
 */
import {
  createSimulatorServer,
  INVALID_JSON,
  type SimRateLimitDialect,
  type SimRateLimitOptions,
  type SimRequest,
  type SimResponse,
} from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { DATADOG_PAGE_SIZE, type DatadogApiKey } from './wire.ts';

export interface DatadogSimulatorOptions {
  apiKeys: string[];
  /** application key -> scopes */
  appKeys: Record<string, string[]>;
  keys: DatadogApiKey[];
  port?: number;
  /** The clock behind `modified_at` (tests pass a fixed one). */
  now?: () => Date;
  /** Datadog's rate limit (off when absent): X-RateLimit-* on every answer, 429 beyond it. */
  rateLimit?: SimRateLimitOptions;
}

export interface DatadogSimulator extends RunningSimulator {
  keys: Map<string, DatadogApiKey>;
}

const errors = (status: number, ...messages: string[]): SimResponse => ({ status, json: { errors: messages } });

/**
 * vendor-facts-2 §4: X-RateLimit-Limit, -Period (the window), -Remaining, -Reset (seconds until it
 * ends) and -Name (the limit's name; the simulator's own, the real one is not documented); no Retry-After.
 */
export const DATADOG_RATE_LIMIT: SimRateLimitDialect = {
  headers: (w) => ({
    'x-ratelimit-limit': String(w.limit),
    'x-ratelimit-period': String(w.windowSeconds),
    'x-ratelimit-remaining': String(w.remaining),
    'x-ratelimit-reset': String(w.resetSeconds),
    'x-ratelimit-name': 'api_keys',
  }),
  tooMany: () => errors(429, 'Too many requests'),
};

export async function createDatadogSimulator(options: DatadogSimulatorOptions): Promise<DatadogSimulator> {
  const keys = new Map(options.keys.map((k) => [k.id, structuredClone(k)]));
  const now = options.now ?? (() => new Date());

  const handle = (req: SimRequest): SimResponse => {
    const [api, version, resource, id, ...rest] = req.segments;
    if (api !== 'api' || version !== 'v2' || resource !== 'api_keys' || rest.length > 0) return errors(404, 'Not found');
    const apiKey = req.headers['dd-api-key'];
    const appKey = req.headers['dd-application-key'];
    const scopes = typeof appKey === 'string' ? options.appKeys[appKey] : undefined;
    if (typeof apiKey !== 'string' || !options.apiKeys.includes(apiKey) || !scopes) return errors(403, 'Forbidden');
    if (!scopes.includes(req.method === 'GET' ? 'api_keys_read' : 'api_keys_write')) return errors(403, 'Forbidden');

    if (req.method === 'GET' && id === undefined) {
      const size = Number(req.query.get('page[size]') ?? 10);
      const number = Number(req.query.get('page[number]') ?? 0);
      if (!Number.isInteger(size) || size < 1 || size > DATADOG_PAGE_SIZE) return errors(400, `page[size] must be between 1 and ${DATADOG_PAGE_SIZE}`);
      if (!Number.isInteger(number) || number < 0) return errors(400, 'page[number] must be a non-negative integer');
      const all = [...keys.values()];
      const data = all.slice(number * size, (number + 1) * size).map(({ attributes: { key: _secret, ...partial }, ...k }) => ({ ...k, attributes: partial }));
      return { status: 200, json: { data, meta: { max_allowed: 50, page: { total_filtered_count: all.length } } } };
    }
    if (id === undefined) return errors(405, 'Method Not Allowed');
    const key = keys.get(id);
    if (req.method === 'GET') return key ? { status: 200, json: { data: key, included: [] } } : errors(404, 'Not found');
    if (req.method !== 'PATCH') return errors(405, 'Method Not Allowed');
    const body = req.body;
    if (body === INVALID_JSON || typeof body !== 'object' || body === null) return errors(400, 'Invalid JSON');
    const data = (body as { data?: { type?: unknown; id?: unknown; attributes?: { name?: unknown } } }).data;
    if (data?.type !== 'api_keys') return errors(400, "data.type must be 'api_keys'");
    if (data.id !== id) return errors(400, 'data.id must match the id in the path');
    if (typeof data.attributes?.name !== 'string' || data.attributes.name === '') return errors(400, 'name is required');
    if (!key) return errors(404, 'Not found');
    key.attributes.name = data.attributes.name;
    key.attributes.modified_at = now().toISOString();
    return { status: 200, json: { data: key, included: [] } };
  };

  const server = await createSimulatorServer(handle, options.port, {
    ...(options.rateLimit && { rateLimit: { ...options.rateLimit, dialect: DATADOG_RATE_LIMIT } }),
  });
  return { ...server, baseUrl: server.origin, keys };
}

export function datadogKey(id: string, name: string, secret: string): DatadogApiKey {
  return {
    type: 'api_keys',
    id,
    attributes: {
      name,
      key: secret,
      last4: secret.slice(-4),
      category: 'default',
      created_at: '2026-01-10T08:00:00.000Z',
      modified_at: '2026-01-10T08:00:00.000Z',
      date_last_used: null,
      remote_config_read_enabled: false,
    },
  };
}

export const DATADOG_DEMO = {
  apiKey: 'dd_demo_api_key_0000000000000000',
  appKey: 'dd_demo_app_key_00000000000000000000000',
  keys: [
    datadogKey('00112233-4455-6677-8899-aabbccddeeff', 'Agent (production)', 'a1b2c3d4e5f60718293a4b5c6d7e8f90'),
    datadogKey('10112233-4455-6677-8899-aabbccddeeff', 'Log forwarder', '0f1e2d3c4b5a69788796a5b4c3d2e1f0'),
  ],
};

export async function startDatadogSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createDatadogSimulator({
    apiKeys: [DATADOG_DEMO.apiKey],
    appKeys: { [DATADOG_DEMO.appKey]: ['api_keys_read', 'api_keys_write'] },
    keys: DATADOG_DEMO.keys,
    port,
  });
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, apiKey: DATADOG_DEMO.apiKey, appKey: DATADOG_DEMO.appKey },
    demoKeyIds: DATADOG_DEMO.keys.map((k) => k.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "00112233-4455-6677-8899-aabbccddeeff", patch: { name: "Agent (prod, rotated)" }) { id name updatedAt raw } }`,
  };
}

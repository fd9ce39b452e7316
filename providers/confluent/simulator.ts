/**
 * A faithful in-memory Confluent Cloud `/iam/v2/api-keys` (vendor-facts-2 §6): HTTP Basic with a
 * Cloud API key, PATCH of `spec.display_name` / `spec.description` only (owner and resource are
 * immutable), GET without the secret, lists by `page_size` (<= 100) and `page_token` with
 * `metadata.next` a full URL, `X-Request-Id` on every answer, and `{errors: [{id, status, code,
 * title, detail, source}]}` failures (404 has no code).
 */
import { randomUUID } from 'node:crypto';
import {
  createSimulatorServer,
  INVALID_JSON,
  type SimRateLimitDialect,
  type SimRateLimitOptions,
  type SimRequest,
  type SimResponse,
} from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { CONFLUENT_PAGE_SIZE, type ConfluentApiKey } from './wire.ts';

export interface ConfluentSimulatorOptions {
  /** Cloud API key -> its secret and whether it may change keys. */
  credentials: Record<string, { secret: string; write: boolean }>;
  keys: ConfluentApiKey[];
  port?: number;
  now?: () => Date;
  /** Confluent's rate limit (off when absent): X-RateLimit-* on every answer, 429 beyond it. */
  rateLimit?: SimRateLimitOptions;
}

export interface ConfluentSimulator extends RunningSimulator {
  keys: Map<string, ConfluentApiKey>;
}

interface Failure {
  status: string;
  code?: string;
  title: string;
  detail?: string;
  source?: { pointer?: string; parameter?: string };
}

const fail = (status: number, f: Omit<Failure, 'status'>, headers: Record<string, string> = {}): SimResponse => ({
  status,
  headers: { 'x-request-id': randomUUID(), ...headers },
  json: { errors: [{ id: randomUUID(), status: String(status), ...f }] },
});

/** vendor-facts-2 §6: X-RateLimit-Limit, -Remaining and -Reset in seconds from now; the 429 adds Retry-After. */
export const CONFLUENT_RATE_LIMIT: SimRateLimitDialect = {
  headers: (w) => ({ 'x-ratelimit-limit': String(w.limit), 'x-ratelimit-remaining': String(w.remaining), 'x-ratelimit-reset': String(w.resetSeconds) }),
  tooMany: (w) => fail(429, { code: 'too_many_requests', title: 'Too Many Requests' }, { 'retry-after': String(w.resetSeconds) }),
};

export async function createConfluentSimulator(options: ConfluentSimulatorOptions): Promise<ConfluentSimulator> {
  const keys = new Map(options.keys.map((k) => [k.id, structuredClone(k)]));
  const now = options.now ?? (() => new Date());
  const without = ({ spec: { secret: _s, ...spec }, ...k }: ConfluentApiKey) => ({ ...k, spec });

  const handle = (req: SimRequest): SimResponse => {
    const [iam, version, resource, id, ...rest] = req.segments;
    if (iam !== 'iam' || version !== 'v2' || resource !== 'api-keys' || rest.length > 0) return fail(404, { title: 'Not Found' });
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const [user, ...pass] = basic ? Buffer.from(basic, 'base64').toString().split(':') : [];
    const credential = user === undefined ? undefined : options.credentials[user];
    if (!credential || credential.secret !== pass.join(':'))
      return fail(
        401,
        { code: 'user_unauthenticated', title: 'Authentication Required', detail: 'Valid authentication credentials must be provided' },
        { 'www-authenticate': 'Basic error="invalid_key", error_description="The API Key is invalid"' },
      );
    const ok = (json: unknown): SimResponse => ({ status: 200, headers: { 'x-request-id': randomUUID() }, json });

    if (req.method === 'GET' && id === undefined) {
      const size = Number(req.query.get('page_size') ?? 10);
      if (!Number.isInteger(size) || size < 1 || size > CONFLUENT_PAGE_SIZE)
        return fail(400, {
          code: 'invalid_parameter',
          title: 'Bad Request',
          detail: `page_size must be between 1 and ${CONFLUENT_PAGE_SIZE}`,
          source: { parameter: 'page_size' },
        });
      const token = req.query.get('page_token');
      const start = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
      const all = [...keys.values()];
      const next =
        start + size < all.length
          ? `http://${req.headers.host}/iam/v2/api-keys?page_size=${size}&page_token=${Buffer.from(String(start + size)).toString('base64url')}`
          : undefined;
      return ok({
        api_version: 'iam/v2',
        kind: 'ApiKeyList',
        metadata: { first: `http://${req.headers.host}/iam/v2/api-keys`, ...(next && { next }), total_size: all.length },
        data: all.slice(start, start + size).map(without),
      });
    }
    if (id === undefined) return fail(405, { code: 'method_not_allowed', title: 'Method Not Allowed' });
    const key = keys.get(id);
    if (req.method === 'GET') return key ? ok(without(key)) : fail(404, { title: 'Not Found' });
    if (req.method !== 'PATCH') return fail(405, { code: 'method_not_allowed', title: 'Method Not Allowed' });
    if (!credential.write)
      return fail(403, { code: 'user_unauthorized', title: 'Forbidden', detail: 'The user does not have the permission to perform this action' });
    const body = req.body;
    if (body === INVALID_JSON || typeof body !== 'object' || body === null)
      return fail(400, { code: 'invalid_json', title: 'Bad Request', detail: 'The request body is not valid JSON' });
    const spec = (body as { spec?: Record<string, unknown> }).spec;
    if (typeof spec !== 'object' || spec === null)
      return fail(422, { code: 'invalid_configuration', title: 'Invalid Configuration', detail: 'spec is required', source: { pointer: '/spec' } });
    for (const field of Object.keys(spec)) {
      if (field !== 'display_name' && field !== 'description')
        return fail(422, {
          code: 'invalid_configuration',
          title: 'Invalid Configuration',
          detail: `${field} is immutable`,
          source: { pointer: `/spec/${field}` },
        });
      if (typeof spec[field] !== 'string')
        return fail(422, {
          code: 'invalid_configuration',
          title: 'Invalid Configuration',
          detail: `${field} must be a string`,
          source: { pointer: `/spec/${field}` },
        });
    }
    if (!key) return fail(404, { title: 'Not Found' });
    if (typeof spec.display_name === 'string') key.spec.display_name = spec.display_name;
    if (typeof spec.description === 'string') key.spec.description = spec.description;
    key.metadata.updated_at = now().toISOString();
    return ok(without(key));
  };

  const server = await createSimulatorServer(handle, options.port, {
    ...(options.rateLimit && { rateLimit: { ...options.rateLimit, dialect: CONFLUENT_RATE_LIMIT } }),
  });
  return { ...server, baseUrl: server.origin, keys };
}

export function confluentKey(id: string, displayName: string, description = ''): ConfluentApiKey {
  return {
    api_version: 'iam/v2',
    kind: 'ApiKey',
    id,
    metadata: {
      self: `https://api.confluent.cloud/iam/v2/api-keys/${id}`,
      resource_name: `crn://api.confluent.cloud/user=u-a83k9b/api-key=${id}`,
      created_at: '2026-02-01T09:00:00Z',
      updated_at: '2026-02-01T09:00:00Z',
    },
    spec: {
      display_name: displayName,
      description,
      owner: { id: 'u-a83k9b', related: 'https://api.confluent.cloud/iam/v2/users/u-a83k9b', resource_name: 'crn://api.confluent.cloud/user=u-a83k9b' },
      resource: { id: 'lkc-c29js0', kind: 'Cluster' },
    },
  };
}

export const CONFLUENT_DEMO = {
  apiKey: 'CLOUDDEMOKEY0001',
  apiSecret: 'cfltDemoSecretSandboxOnly0123456789abcdef',
  keys: [confluentKey('ABCD1234567890AB', 'orders-producer', 'Producer for the orders topic'), confluentKey('EFGH1234567890CD', 'analytics-consumer')],
};

export async function startConfluentSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createConfluentSimulator({
    credentials: { [CONFLUENT_DEMO.apiKey]: { secret: CONFLUENT_DEMO.apiSecret, write: true } },
    keys: CONFLUENT_DEMO.keys,
    port,
  });
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, apiKey: CONFLUENT_DEMO.apiKey, apiSecret: CONFLUENT_DEMO.apiSecret },
    demoKeyIds: CONFLUENT_DEMO.keys.map((k) => k.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "ABCD1234567890AB", patch: { name: "orders-producer (v2)", confluent: { description: "Rotated 2026" } }) { id name raw } }`,
  };
}

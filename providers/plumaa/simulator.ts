/**
 * A faithful in-memory Plumaa ID REST API (SOFA over GraphQL), per seed 004 and vendor-facts §5:
 * PUT /rest/v1/api-key reads `input` from the query string first (JSON or qs brackets), else from
 * the body; GraphQL variable coercion (ObjectID, String, Boolean) runs before the resolver, which
 * checks the Bearer key's organization; every failure is SOFA's `{errors: [...]}`, HTTP 500 unless
 * SOFA itself rejected the request (400); the answer is the whole ApiKey, secret included.
 */
import { randomBytes } from 'node:crypto';
import { bearerToken, createSimulatorServer, INVALID_JSON, type SimRequest, type SimResponse } from '../../sandbox/simulator-kit.ts';
import type { RunningSimulator, Sandbox } from '../types.ts';
import { OBJECT_ID, type PlumaaApiKey, type PlumaaOrganizationRecord } from './wire.ts';

export interface PlumaaSimulatorOptions {
  /** Bearer API key -> the id of the organization it belongs to */
  tokens: Record<string, string>;
  /** Every key, across organizations (`organization.id` says whose). */
  keys: PlumaaApiKey[];
  port?: number;
}

export interface PlumaaSimulator extends RunningSimulator {
  keys: Map<string, PlumaaApiKey>;
}

interface GraphQLErrorJson {
  message: string;
  path?: string[];
  extensions?: { code: string };
}

const FIELD = 'updateApiKey';
const INPUT_FIELDS = new Set(['id', 'name', 'enabled']);

const sofaErrors = (status: number, errors: GraphQLErrorJson[]): SimResponse => ({ status, json: { errors } });
const resolverError = (code: string, message: string): SimResponse => sofaErrors(500, [{ message, path: [FIELD], extensions: { code } }]);
const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

export async function createPlumaaSimulator(options: PlumaaSimulatorOptions): Promise<PlumaaSimulator> {
  const keys = new Map(options.keys.map((k) => [k.id.toLowerCase(), structuredClone(k)]));

  const handle = (req: SimRequest): SimResponse => {
    const [rest, version, resource, ...extra] = req.segments;
    if (rest !== 'rest' || version !== 'v1' || resource !== 'api-key' || extra.length > 0 || req.method !== 'PUT') return { status: 404, text: 'Not Found' };
    if (req.body === INVALID_JSON) return sofaErrors(400, [{ message: 'POST body sent invalid JSON.' }]);

    // SOFA's pickParam: the query string first, then the body.
    let value = pickQueryInput(req.query);
    if (value === undefined && typeof req.body === 'object' && req.body !== null && Object.hasOwn(req.body, 'input'))
      value = (req.body as { input: unknown }).input;
    if (typeof value === 'string') {
      try {
        value = JSON.parse(value);
      } catch (err) {
        return sofaErrors(400, [{ message: (err as Error).message }]);
      }
    }

    const coerced = coerceInput(value);
    if ('errors' in coerced)
      return sofaErrors(
        500,
        coerced.errors.map((message) => ({ message, extensions: { code: 'BAD_USER_INPUT' } })),
      );
    const input = coerced.input;

    const token = bearerToken(req);
    const orgId = token === undefined ? undefined : options.tokens[token];
    if (orgId === undefined) return resolverError('UNAUTHENTICATED', 'Unauthenticated');
    const key = keys.get(input.id.toLowerCase());
    if (!key) return resolverError('NOT_FOUND', `ApiKey with id ${input.id} not found`);
    if (key.organization.id !== orgId) return resolverError('PERMISSION_DENIED', 'You do not have permission to update this API key');

    if (input.name != null) key.name = input.name;
    if (input.enabled != null) key.enabled = input.enabled;
    key.updatedAt = new Date().toISOString();
    return { status: 200, json: key };
  };

  const server = await createSimulatorServer(handle, options.port);
  return { ...server, baseUrl: `${server.origin}/rest/v1`, keys };
}

/** `?input=<JSON>` (one value), several values (an array), or qs brackets `?input[id]=..` (strings only). */
function pickQueryInput(query: URLSearchParams): unknown {
  if (query.has('input')) {
    const values = query.getAll('input');
    return values.length === 1 ? values[0] : values;
  }
  let bracketed: Record<string, string> | undefined;
  for (const [name, v] of query) {
    const m = /^input\[([^\]]*)\]$/.exec(name);
    if (m) {
      bracketed ??= {};
      bracketed[m[1]] = v;
    }
  }
  return bracketed;
}

/** GraphQL's coercion of `$input: UpdateApiKeyInput!`, with graphql-js's messages. */
function coerceInput(value: unknown): { input: { id: string; name?: string | null; enabled?: boolean | null } } | { errors: string[] } {
  const prefix = `Variable "$input" got invalid value ${show(value)}`;
  if (value === undefined) return { errors: ['Variable "$input" of required type "UpdateApiKeyInput!" was not provided.'] };
  if (value === null) return { errors: ['Variable "$input" of non-null type "UpdateApiKeyInput!" must not be null.'] };
  if (typeof value !== 'object' || Array.isArray(value)) return { errors: [`${prefix}; Expected type "UpdateApiKeyInput" to be an object.`] };
  const obj = value as Record<string, unknown>;
  const errors: string[] = [];
  for (const field of Object.keys(obj)) if (!INPUT_FIELDS.has(field)) errors.push(`${prefix}; Field "${field}" is not defined by type "UpdateApiKeyInput".`);
  const { id, name, enabled } = obj;
  if (id === undefined || id === null) errors.push(`${prefix}; Field "id" of required type "ObjectID!" was not provided.`);
  else if (typeof id !== 'string' || !OBJECT_ID.test(id))
    errors.push(
      `Variable "$input" got invalid value ${show(id)} at "input.id"; Expected type "ObjectID". Value is not a valid mongodb object id of form: ${String(id)}`,
    );
  if (name != null && typeof name !== 'string')
    errors.push(`Variable "$input" got invalid value ${show(name)} at "input.name"; String cannot represent a non string value: ${show(name)}`);
  if (enabled != null && typeof enabled !== 'boolean')
    errors.push(`Variable "$input" got invalid value ${show(enabled)} at "input.enabled"; Boolean cannot represent a non boolean value: ${show(enabled)}`);
  if (errors.length > 0) return { errors };
  return { input: { id: id as string, name: name as string | null | undefined, enabled: enabled as boolean | null | undefined } };
}

const DEMO_ORG: PlumaaOrganizationRecord = {
  id: '65a1f0c2e4b0a1b2c3d4e5f6',
  name: 'Notaría Demo',
  logo: null,
  emailAddress: 'admin@notaria-demo.mx',
  quota: { id: '65a1f0c2e4b0a1b2c3d4e5f7', API: true, groupedNOM151: 100, nom151: 500 },
  policies: { signatureRequest: { conservation: 'NOM151' } },
  createdAt: '2025-11-04T16:20:00.000Z',
  updatedAt: '2026-01-10T09:00:00.000Z',
};

export const PLUMAA_DEMO = {
  token: 'plm_live_demo_3f9a2c7e1b4d8a6f0c5e9b2d7a1f4c8e',
  organization: DEMO_ORG,
  keys: [
    plumaaKey('65b2c3d4e5f6a7b8c9d0e1f2', 'Firma backend', DEMO_ORG, { secret: 'plm_live_8c1d4e7f2a5b9c0d3e6f1a4b7c2d5e8f' }),
    plumaaKey('65b2c3d4e5f6a7b8c9d0e1f3', 'Integración ERP', DEMO_ORG, { enabled: false, secret: 'plm_live_1e4b7c0d3f6a9b2c5d8e1f4a7b0c3d6e' }),
  ],
};

/** A key with a fresh `plm_live_` secret unless one is given. */
export function plumaaKey(id: string, name: string, organization: PlumaaOrganizationRecord, extra: Partial<PlumaaApiKey> = {}): PlumaaApiKey {
  return {
    id,
    enabled: true,
    name,
    secret: `plm_live_${randomBytes(16).toString('hex')}`,
    organization,
    createdAt: '2026-01-20T12:00:00.000Z',
    updatedAt: '2026-01-20T12:00:00.000Z',
    ...extra,
  };
}

export async function startPlumaaSandbox(port?: number): Promise<Sandbox> {
  const simulator = await createPlumaaSimulator({ tokens: { [PLUMAA_DEMO.token]: DEMO_ORG.id }, keys: PLUMAA_DEMO.keys, port });
  const [first] = PLUMAA_DEMO.keys;
  return {
    simulator,
    connection: { baseUrl: simulator.baseUrl, token: PLUMAA_DEMO.token },
    demoKeyIds: PLUMAA_DEMO.keys.map((k) => k.id),
    exampleMutation: (name) =>
      `mutation { updateApiKey(provider: "${name}", id: "${first.id}", patch: { name: "Firma backend (prod)", enabled: false }) { id name enabled updatedAt } }`,
  };
}

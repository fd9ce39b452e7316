import { z } from 'zod';
import { toDate, type ErrorCode, type FieldProblem, type ProviderAdapter } from '../types.ts';
import { PLUMAA_BASE_URL, PlumaaApiKeyBody, PlumaaErrorBody, type PlumaaUpdateBody, type PlumaaUpdateInput } from './wire.ts';

export interface PlumaaConfig {
  baseUrl: string;
  /** A Plumaa organization API key, sent as Bearer. */
  token: string;
}

/** SOFA passes GraphQL `extensions.code` through; these are the codes whose meaning is clear. */
const CODES = new Map<string, ErrorCode>([
  ['NOT_FOUND', 'NOT_FOUND'],
  ['PERMISSION_DENIED', 'FORBIDDEN'],
  ['FORBIDDEN', 'FORBIDDEN'],
  ['UNAUTHENTICATED', 'UNAUTHENTICATED'],
  ['UNAUTHORIZED', 'UNAUTHENTICATED'],
  ['BAD_USER_INPUT', 'BAD_USER_INPUT'],
  ['BAD_REQUEST', 'BAD_USER_INPUT'],
  ['GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT'],
  ['CONFLICT', 'CONFLICT'],
  ['RATE_LIMITED', 'RATE_LIMITED'],
]);

export const plumaaAdapter: ProviderAdapter<PlumaaConfig> = {
  kind: 'plumaa',
  defaultBaseUrl: PLUMAA_BASE_URL,
  configSchema: z.object({ token: z.string().min(1) }),
  secretConfigFields: ['token'],
  patchFields: ['name', 'enabled'],
  updateIdempotency: { idempotent: true, why: 'PUT {input: {id, name?, enabled?}} sets the named fields' },
  // The update answer is the whole ApiKey, secret included.
  secretBodyFields: ['secret'],

  auth: (cfg) => ({ type: 'bearer', token: cfg.token }),

  validate(patch) {
    const problems: FieldProblem[] = [];
    if (patch.name != null && patch.name.length === 0) problems.push({ field: 'name', message: 'must not be empty' });
    return problems;
  },

  buildUpdate(_cfg, id, patch) {
    const input: PlumaaUpdateInput = { id };
    if (patch.name != null) input.name = patch.name;
    if (patch.enabled != null) input.enabled = patch.enabled;
    const body: PlumaaUpdateBody = { input };
    // The seed requires `input` in the query and in the body; SOFA lets the query win, so both carry
    // the same JSON (the JSON form keeps `enabled` a boolean, unlike qs bracket syntax).
    return { method: 'PUT', path: '/api-key', query: { input: JSON.stringify(input) }, body };
  },

  normalize(body) {
    const parsed = PlumaaApiKeyBody.safeParse(body);
    if (!parsed.success) return undefined;
    const key = parsed.data;
    return {
      id: key.id,
      name: key.name,
      enabled: key.enabled,
      roles: null,
      tags: null,
      expiresAt: null,
      updatedAt: toDate(key.updatedAt),
      raw: body,
    };
  },

  mapError(res) {
    const parsed = PlumaaErrorBody.safeParse(res.json);
    if (!parsed.success) return {};
    const { errors } = parsed.data;
    const vendorCode = errors[0].extensions?.code;
    const message = errors.map((e) => e.message).join('; ');
    if (vendorCode === undefined) return { message };
    const code = CODES.get(vendorCode);
    return code ? { code, vendorCode, message } : { vendorCode, message };
  },
};

import { z } from 'zod';
import { pathSegment, toDate, type FieldProblem, type NormalizedKey, type ProviderAdapter } from '../types.ts';
import { BASIC_BASE_URL, BasicErrorBody, BasicGetResponse, BasicUpdateResponse, type BasicUpdateBody } from './wire.ts';

export interface BasicConfig {
  baseUrl: string;
  /** The Basic project id (`/project/{id}`). */
  project: string;
  /** A JWT from Basic's OAuth flow or a project API key; both go as Bearer. */
  token: string;
}

export const basicAdapter: ProviderAdapter<BasicConfig> = {
  kind: 'basic',
  defaultBaseUrl: BASIC_BASE_URL,
  configSchema: z.object({ project: z.string().min(1), token: z.string().min(1) }),
  secretConfigFields: ['token'],
  patchFields: ['name', 'roles'],
  updateIdempotency: { idempotent: true, why: 'PATCH {label?, roles?} replaces the label and the whole role list' },
  secretBodyFields: [],

  auth: (cfg) => ({ type: 'bearer', token: cfg.token }),

  validate(patch) {
    const problems: FieldProblem[] = [];
    if (patch.name != null && patch.name.length === 0) problems.push({ field: 'name', message: 'must not be empty' });
    if (patch.roles != null) {
      if (patch.roles.length === 0) problems.push({ field: 'roles', message: 'must list at least one role' });
      const seen = new Set<string>();
      patch.roles.forEach((role, i) => {
        if (role.length === 0) problems.push({ field: `roles[${i}]`, message: 'must not be empty' });
        // Basic takes roles as one comma-separated string, so a comma would split the role.
        else if (role.includes(',')) problems.push({ field: `roles[${i}]`, message: 'must not contain a comma (Basic joins roles with commas)' });
        else if (role.trim() !== role) problems.push({ field: `roles[${i}]`, message: 'must not start or end with whitespace' });
        if (seen.has(role)) problems.push({ field: `roles[${i}]`, message: `role "${role}" appears more than once` });
        seen.add(role);
      });
    }
    return problems;
  },

  buildUpdate(cfg, id, patch) {
    const body: BasicUpdateBody = {};
    if (patch.name != null) body.label = patch.name;
    if (patch.roles != null) body.roles = patch.roles.join(',');
    return { method: 'PATCH', path: `/project/${pathSegment(cfg.project)}/key/${pathSegment(id)}`, body };
  },

  normalize: (body, id) => toKey(BasicUpdateResponse.safeParse(body), body, id),

  readKey: (cfg, id) => ({ method: 'GET', path: `/project/${pathSegment(cfg.project)}/key/${pathSegment(id)}` }),

  parseKey: (body, id) => toKey(BasicGetResponse.safeParse(body), body, id),

  mapError(res) {
    const parsed = BasicErrorBody.safeParse(res.json);
    if (!parsed.success) return {};
    const { error, message } = parsed.data;
    return { vendorCode: error, message: message ?? error };
  },
};

/** Basic's comma-separated roles as a list. */
export function splitRoles(roles: string | undefined | null): string[] | null {
  if (roles == null) return null;
  return roles
    .split(',')
    .map((r) => r.trim())
    .filter((r) => r.length > 0);
}

/** A Basic `{key: {...}}` body (update and read answers share it) as a key. */
function toKey(
  parsed: { success: true; data: { key: { id: string; label?: string; roles?: string; updated_at?: string } } } | { success: false },
  body: unknown,
  id: string,
): NormalizedKey | undefined {
  if (!parsed.success) return undefined;
  const { key } = parsed.data;
  return {
    id: key.id || id,
    name: key.label ?? null,
    enabled: null,
    roles: splitRoles(key.roles),
    tags: null,
    expiresAt: null,
    updatedAt: toDate(key.updated_at),
    raw: body,
  };
}

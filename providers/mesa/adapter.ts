import { z } from 'zod';
import { pathSegment, toDate, type FieldProblem, type ProviderAdapter } from '../types.ts';
import {
  MESA_BASE_URL,
  MESA_LIST_LIMIT,
  MESA_TAG_KEY_MAX,
  MESA_TAG_VALUE_MAX,
  MesaErrorBody,
  MesaListResponse,
  MesaUpdateResponse,
  type MesaUpdateBody,
} from './wire.ts';

export interface MesaConfig {
  baseUrl: string;
  org: string;
  token: string;
}

export const mesaAdapter: ProviderAdapter<MesaConfig> = {
  kind: 'mesa',
  defaultBaseUrl: MESA_BASE_URL,
  configSchema: z.object({ org: z.string().min(1), token: z.string().min(1) }),
  secretConfigFields: ['token'],
  patchFields: ['setTags', 'removeTags'],
  updateIdempotency: { idempotent: true, why: 'PATCH {tags: {k: v | null}} sets or deletes the named tags (set semantics)' },
  secretBodyFields: [],

  auth: (cfg) => ({ type: 'bearer', token: cfg.token }),

  validate(patch) {
    const problems: FieldProblem[] = [];
    // Mesa lowercases tag keys, so `Env` and `env` are the same tag. Exact repeats are refused for
    // every vendor (src/core/validate.ts); here only those that differ in case.
    const seen = new Map<string, string>();
    const sameTag = (field: string, key: string) => {
      const other = seen.get(key.toLowerCase());
      if (other !== undefined && other !== key) problems.push({ field, message: `tag "${key}" is the same Mesa tag as "${other}" (Mesa lowercases keys)` });
      if (other === undefined) seen.set(key.toLowerCase(), key);
    };
    patch.setTags?.forEach((tag, i) => {
      if (tag.key.length === 0 || tag.key.length > MESA_TAG_KEY_MAX)
        problems.push({ field: `setTags[${i}].key`, message: `must be 1..${MESA_TAG_KEY_MAX} characters (Mesa's limit)` });
      if (tag.value == null) problems.push({ field: `setTags[${i}].value`, message: 'is required for Mesa tags' });
      else if (tag.value.length > MESA_TAG_VALUE_MAX)
        problems.push({ field: `setTags[${i}].value`, message: `must be at most ${MESA_TAG_VALUE_MAX} characters (Mesa's limit)` });
      sameTag(`setTags[${i}].key`, tag.key);
    });
    patch.removeTags?.forEach((key, i) => {
      if (key.length === 0 || key.length > MESA_TAG_KEY_MAX)
        problems.push({ field: `removeTags[${i}]`, message: `must be 1..${MESA_TAG_KEY_MAX} characters (Mesa's limit)` });
      sameTag(`removeTags[${i}]`, key);
    });
    return problems;
  },

  buildUpdate(cfg, id, patch) {
    // fromEntries defines each key as an own property: no key is lost to the object's prototype.
    const tags: MesaUpdateBody['tags'] = Object.fromEntries([
      ...(patch.setTags ?? []).map((tag) => [tag.key, tag.value ?? null] as const),
      ...(patch.removeTags ?? []).map((key) => [key, null] as const),
    ]);
    const body: MesaUpdateBody = { tags };
    return { method: 'PATCH', path: `/${pathSegment(cfg.org)}/api-keys/${pathSegment(id)}`, body };
  },

  normalize(body, id) {
    const parsed = MesaUpdateResponse.safeParse(body);
    if (!parsed.success) return undefined;
    return {
      id,
      name: null,
      enabled: null,
      roles: null,
      tags: Object.entries(parsed.data.tags).map(([key, value]) => ({ key, value })),
      expiresAt: null,
      updatedAt: null,
      raw: parsed.data,
    };
  },

  // Mesa has no single-key GET (vendor-facts §1): a read walks the list and matches on id.
  readByListing: true,

  listPage: (cfg, page) => ({
    method: 'GET',
    path: `/${pathSegment(cfg.org)}/api-keys`,
    query: { limit: String(MESA_LIST_LIMIT), ...(page !== undefined && { cursor: page }) },
  }),

  parseListPage(body) {
    const parsed = MesaListResponse.safeParse(body);
    if (!parsed.success) return undefined;
    const { api_keys, has_more, next_cursor } = parsed.data;
    return {
      keys: api_keys.map((k) => ({
        id: k.id,
        name: k.name ?? null,
        enabled: k.revoked_at == null,
        roles: null,
        tags: Object.entries(k.tags ?? {}).map(([key, value]) => ({ key, value })),
        expiresAt: toDate(k.expires_at),
        updatedAt: null,
        raw: k,
      })),
      next: has_more && next_cursor ? next_cursor : undefined,
    };
  },

  mapError(res) {
    const parsed = MesaErrorBody.safeParse(res.json);
    if (!parsed.success) return {};
    const { code, message, trace_id } = parsed.data.error;
    return { vendorCode: code, message, traceId: trace_id };
  },
};

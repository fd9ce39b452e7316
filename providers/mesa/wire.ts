/**
 * Mesa "Depot API" v1 — PATCH /{org}/api-keys/{id}.
 * Contract: ../shared/seeds/000_60e861e60fa05987.txt (https://docs.mesa.dev/api-reference/org/update-api-key-tags)
 * Facts beyond the seed: ../shared/design/vendor-facts.md §1.
 */
import { z } from 'zod';

export const MESA_BASE_URL = 'https://api.mesa.dev/v1';
export const MESA_TAG_KEY_MAX = 64;
export const MESA_TAG_VALUE_MAX = 256;
/** The list endpoint's page size maximum. */
export const MESA_LIST_LIMIT = 100;

/** Request body: tags merge; null removes a tag. */
export interface MesaUpdateBody {
  tags: Record<string, string | null>;
}

/** 200 answer. */
export const MesaUpdateResponse = z.object({ tags: z.record(z.string(), z.string()) });
export type MesaUpdateResponse = z.infer<typeof MesaUpdateResponse>;

/** Error body for 400/401/403/404/406/409/500. */
export const MesaErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional(),
    trace_id: z.string().optional(),
  }),
});
export type MesaErrorBody = z.infer<typeof MesaErrorBody>;

/** A key as the list endpoint shows it (vendor-facts §1, read and list endpoints). */
export interface MesaApiKey {
  id: string;
  name: string;
  scopes: string[];
  repo_ids: string[] | null;
  metadata: Record<string, unknown>;
  tags: Record<string, string>;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

/** GET /{org}/api-keys answer. */
export const MesaListResponse = z.object({
  api_keys: z.array(
    z.looseObject({
      id: z.string(),
      name: z.string().nullish(),
      tags: z.record(z.string(), z.string()).nullish(),
      expires_at: z.string().nullish(),
      revoked_at: z.string().nullish(),
    }),
  ),
  has_more: z.boolean(),
  next_cursor: z.string().nullish(),
});

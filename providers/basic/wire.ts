/**
 * Basic.tech Admin API v0.1.0 — PATCH /project/{id}/key/{key_id}.
 * Contract: ../shared/seeds/001_397d8aa17e09cf0d.txt (https://docs.basic.tech/api-reference/project-keys/update-api-key)
 * Facts beyond the seed: ../shared/design/vendor-facts.md §2.
 */
import { z } from 'zod';

export const BASIC_BASE_URL = 'https://api.basic.tech';

/** Request body: at least one field (`minProperties: 1`); roles is one comma-separated string. */
export interface BasicUpdateBody {
  label?: string;
  roles?: string;
}

/** 200 answer of the PATCH. The seed marks no property required, so only `id` is insisted on. */
export const BasicUpdateResponse = z.object({
  key: z.object({ id: z.string(), label: z.string().optional(), roles: z.string().optional(), updated_at: z.string().optional() }),
});
export type BasicUpdateResponse = z.infer<typeof BasicUpdateResponse>;

/** 200 answer of GET /project/{id}/key/{key_id} (vendor-facts §2, read endpoint). */
export const BasicGetResponse = z.object({
  key: z.object({ id: z.string(), label: z.string().optional(), roles: z.string().optional(), created_at: z.string().optional() }),
});
export type BasicGetResponse = z.infer<typeof BasicGetResponse>;

/** Error body: 400 and 401 carry `{error, message}`, 404 only `{error}`. */
export const BasicErrorBody = z.object({ error: z.string(), message: z.string().optional() });
export type BasicErrorBody = z.infer<typeof BasicErrorBody>;

/** A key as the simulator holds it: the GET shape plus the time of the last change. */
export interface BasicKey {
  id: string;
  label: string;
  /** Comma-separated, as Basic stores and returns it. */
  roles: string;
  created_at: string;
  updated_at?: string;
}

/**
 * MongoDB Atlas Administration API v2 (and the legacy v1.0) — PATCH /orgs/{ORG-ID}/apiKeys/{API-KEY-ID},
 * with a service account's OAuth 2.0 token or an API key's HTTP Digest.
 * Contract: ../shared/seeds/002_4aee28ffec8e4788.txt (v1.0)
 * (https://www.mongodb.com/docs/atlas/reference/api/apiKeys-orgs-update-one/)
 * Facts beyond the seed: ../shared/design/vendor-facts.md §3 (error codes from mongodb/docs
 * `source/reference/api-errors.txt`, roles from the v2 `updateApiKey` operation page) and
 * vendor-facts-2.md §1 (v2 media type and version errors, `badRequestDetail`, service accounts;
 * atlas-sdk-go `openapi/atlas-api-transformed.yaml`).
 */
import { z } from 'zod';

export const ATLAS_BASE_URL = 'https://cloud.mongodb.com/api/atlas/v2';
/** The API versions keygate speaks, named by the last segment of `baseUrl`'s path. */
export const ATLAS_API_PATHS = { v2: '/api/atlas/v2', 'v1.0': '/api/atlas/v1.0' } as const;
export type AtlasApiVersion = keyof typeof ATLAS_API_PATHS;
/** The resource version of the org API-key operations, sent as Accept (and Content-Type with a body) on v2. */
export const ATLAS_V2_MEDIA_TYPE = 'application/vnd.atlas.2023-01-01+json';
/** The service-account token endpoint, under the origin of `baseUrl`. */
export const ATLAS_TOKEN_PATH = '/api/oauth/token';
export const ATLAS_DESC_MAX = 250;

/** Organization roles an org API key may hold (the v2 enum; the older v1 include lists five of them). */
export const ATLAS_ORG_ROLES = [
  'ORG_OWNER',
  'ORG_MEMBER',
  'ORG_GROUP_CREATOR',
  'ORG_BILLING_ADMIN',
  'ORG_BILLING_READ_ONLY',
  'ORG_STREAM_PROCESSING_ADMIN',
  'ORG_READ_ONLY',
] as const;
export type AtlasOrgRole = (typeof ATLAS_ORG_ROLES)[number];

/** Request body: at least one of the two; `roles` replaces the key's roles. */
export interface AtlasUpdateBody {
  desc?: string;
  roles?: string[];
}

export const AtlasLink = z.looseObject({ href: z.string(), rel: z.string() });

export const AtlasRoleAssignment = z.looseObject({ orgId: z.string().optional(), groupId: z.string().optional(), roleName: z.string() });

/** 200 answer of update and get (privateKey comes back masked, but is treated as a secret anyway). */
export const AtlasApiKeyResponse = z.looseObject({
  desc: z.string(),
  id: z.string(),
  links: z.array(AtlasLink).optional(),
  privateKey: z.string().optional(),
  publicKey: z.string(),
  roles: z.array(AtlasRoleAssignment),
});
export type AtlasApiKeyResponse = z.infer<typeof AtlasApiKeyResponse>;

/** Schema `ApiError`, the body of every failure (the 401 Digest challenge lacks `errorCode`). */
export const AtlasErrorBody = z.looseObject({
  detail: z.string().optional(),
  error: z.number().int(),
  errorCode: z.string().optional(),
  parameters: z.array(z.unknown()).optional(),
  reason: z.string().optional(),
  /** v2: the request-body fields refused, each with a reason. */
  badRequestDetail: z.looseObject({ fields: z.array(z.looseObject({ field: z.string(), description: z.string() })).optional() }).optional(),
});
export type AtlasErrorBody = z.infer<typeof AtlasErrorBody>;

/** A key as the simulator stores it (the private key in full; answers mask it). */
export interface AtlasApiKey {
  id: string;
  desc: string;
  publicKey: string;
  privateKey: string;
  roles: string[];
  /** Project roles the key also holds (answers list them beside the org roles). */
  projectRoles?: { groupId: string; roleName: string }[];
}

/** GET /orgs/{orgId}/apiKeys answer (paged with pageNum / itemsPerPage). */
export const AtlasListResponse = z.looseObject({
  results: z.array(z.unknown()),
  totalCount: z.number().int().nonnegative(),
});
/** Our page size for listing (the vendor allows up to 500). */
export const ATLAS_PAGE_SIZE = 100;

/**
 * Confluent Cloud API keys — `PATCH /iam/v2/api-keys/{id}` `{spec: {display_name?, description?}}`.
 * Facts: ../shared/design/vendor-facts-2.md §6 (ccloud-sdk-go-v2 `apikeys/v2/api/openapi.yaml`).
 */
export const CONFLUENT_BASE_URL = 'https://api.confluent.cloud';
/** `page_size` maximum. */
export const CONFLUENT_PAGE_SIZE = 100;

export interface ConfluentApiKey {
  api_version: 'iam/v2';
  kind: 'ApiKey';
  id: string;
  metadata: { self: string; resource_name: string; created_at: string; updated_at: string; deleted_at?: string | null };
  spec: {
    display_name: string;
    description: string;
    /** Only in create answers. */
    secret?: string;
    owner: { id: string; related: string; resource_name: string };
    resource: { id: string; kind?: string } | null;
  };
}

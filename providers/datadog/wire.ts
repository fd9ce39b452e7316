/**
 * Datadog API keys — `PATCH /api/v2/api_keys/{id}` (JSON:API).
 * Facts: ../shared/design/vendor-facts-2.md §4 (docs.datadoghq.com/api/latest/key-management).
 */
/** The sites (`https://api.{site}`); docs.datadoghq.com/getting_started/site. */
export const DATADOG_SITES = [
  'datadoghq.com',
  'us3.datadoghq.com',
  'us5.datadoghq.com',
  'datadoghq.eu',
  'ap1.datadoghq.com',
  'ap2.datadoghq.com',
  'uk1.datadoghq.com',
  'ddog-gov.com',
  'us2.ddog-gov.com',
] as const;
export const DATADOG_DEFAULT_SITE = 'datadoghq.com';
/** `page[size]` maximum. */
export const DATADOG_PAGE_SIZE = 100;

/** A key as GET and PATCH show it (`FullAPIKeyAttributes`); list items have no `key`. */
export interface DatadogApiKey {
  type: 'api_keys';
  id: string;
  attributes: {
    name: string;
    /** The full secret key. */
    key: string;
    last4: string;
    category?: string;
    created_at: string;
    modified_at: string;
    date_last_used?: string | null;
    remote_config_read_enabled?: boolean;
  };
}

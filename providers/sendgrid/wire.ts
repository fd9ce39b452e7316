/**
 * SendGrid v3 API keys — `PATCH /api_keys/{id}` `{name}`, `PUT /api_keys/{id}` `{name, scopes}`.
 * Facts: ../shared/design/vendor-facts-2.md §3 (sendgrid-oai `tsg_api_keys_v3.json`).
 */
export const SENDGRID_BASE_URL = 'https://api.sendgrid.com/v3';
export const SENDGRID_EU_BASE_URL = 'https://api.eu.sendgrid.com/v3';
/** The list's page size (`limit`); the list has no documented offset or cursor. */
export const SENDGRID_LIST_LIMIT = 100;

/** A key as GET shows it (the list omits `scopes`). */
export interface SendGridApiKey {
  api_key_id: string;
  name: string;
  scopes: string[];
}

/** `ErrorResponse`: `{errors: [{message, field?, help?}], id?}`. */
export interface SendGridError {
  message: string;
  field?: string | null;
  help?: unknown;
}

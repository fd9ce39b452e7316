/**
 * Cloudflare API tokens — `PUT /user/tokens/{id}` or `/accounts/{account_id}/tokens/{id}` (full replace).
 * Facts: ../shared/design/vendor-facts-2.md §5 (developers.cloudflare.com/api/resources/user/subresources/tokens).
 */
export const CLOUDFLARE_BASE_URL = 'https://api.cloudflare.com/client/v4';
export const CLOUDFLARE_NAME_MAX = 120;
/** The list's `per_page`. */
export const CLOUDFLARE_PAGE_SIZE = 50;

export interface CloudflarePolicy {
  id?: string;
  effect: 'allow' | 'deny';
  permission_groups: { id: string; meta?: { key?: string; value?: string }; name?: string }[];
  resources: Record<string, string | Record<string, string>>;
}

export interface CloudflareToken {
  id: string;
  name: string;
  status: 'active' | 'disabled' | 'expired';
  policies: CloudflarePolicy[];
  condition?: { request_ip?: { in?: string[]; not_in?: string[] } };
  expires_on?: string | null;
  not_before?: string | null;
  issued_on: string;
  modified_on: string;
  last_used_on?: string | null;
}

/**
 * Cloudflare API tokens on the declarative engine (providers/http/engine.ts). The PUT replaces the
 * token (`policies` is required), and what an omitted `condition`, `expires_on` or `not_before`
 * does is not documented, so every update reads the token and writes back every writable field
 * with the patch applied (read-modify-write, one at a time per key). Account-owned tokens live
 * under `/accounts/{accountId}/tokens` when `accountId` is set, user tokens under `/user/tokens`.
 * Errors are the `{success: false, errors: [{code, message}]}` envelope; code 9109 (invalid token)
 * is UNAUTHENTICATED and 7003 (no such object) NOT_FOUND, whatever the status.
 */
import { z } from 'zod';
import { httpAdapter } from '../http/engine.ts';
import { CLOUDFLARE_BASE_URL, CLOUDFLARE_NAME_MAX, CLOUDFLARE_PAGE_SIZE } from './wire.ts';

export interface CloudflareConfig {
  baseUrl: string;
  /** An API token with "API Tokens Write" (user) or "Account API Tokens Write" (account). */
  token: string;
  /** For account-owned tokens (32 hex digits). */
  accountId?: string;
}

const account = { configSet: ['accountId'] };
const tokenPath = (rest: string) => [{ when: account, path: `/accounts/{{ config.accountId }}/tokens${rest}` }, { path: `/user/tokens${rest}` }];
const body = {
  $merge: [
    // Every writable field as read, then the patch over it.
    {
      name: '{{ current.name }}',
      policies: '{{ current.policies }}',
      status: '{{ current.status }}',
      condition: '{{ current.condition }}',
      expires_on: '{{ current.expires_on }}',
      not_before: '{{ current.not_before }}',
    },
    {
      name: '{{ patch.name }}',
      policies: '{{ patch.cloudflare.policies }}',
      status: { $value: '{{ patch.enabled }}', $map: { true: 'active', false: 'disabled' } },
      condition: '{{ patch.cloudflare.condition }}',
      expires_on: '{{ patch.expiresAt | iso }}',
      not_before: '{{ patch.cloudflare.not_before | iso }}',
    },
  ],
};

export const cloudflareAdapter = httpAdapter<Omit<CloudflareConfig, 'baseUrl'>>(
  {
    baseUrl: CLOUDFLARE_BASE_URL,
    auth: { type: 'bearer', token: '{{ config.token }}' },
    update: tokenPath('/{{ id }}').map((r) => ({ ...r, method: 'PUT' as const, body })),
    readBeforeWrite: true,
    read: tokenPath('/{{ id }}'),
    readKey: 'body.result',
    updateKey: 'body.result',
    list: {
      requests: tokenPath(''),
      items: 'body.result',
      pagination: { type: 'page', param: 'page', start: 1, sizeParam: 'per_page', size: CLOUDFLARE_PAGE_SIZE },
    },
    key: {
      id: '{{ key.id }}',
      name: '{{ key.name }}',
      enabled: { $value: '{{ key.status }}', $map: { active: true, disabled: false, expired: false } },
      expiresAt: '{{ key.expires_on }}',
      updatedAt: '{{ key.modified_on }}',
    },
    errors: {
      items: 'body.errors',
      code: 'error.code',
      message: 'error.message',
      traceId: 'headers.cf-ray',
      codes: { '9109': 'UNAUTHENTICATED', '7003': 'NOT_FOUND' },
    },
    // The token's secret is only in create answers; redacted should it ever appear.
    secretBodyFields: ['value', 'result.value'],
    // vendor-facts-2 §5: `Ratelimit: "default";r=50;t=30` (requests left, seconds to the reset).
    rateLimitHeaders: { format: 'structured', header: 'Ratelimit' },
    patch: {
      name: { minLength: 1, maxLength: CLOUDFLARE_NAME_MAX },
      enabled: {},
      expiresAt: {},
      cloudflare: {
        description: 'Cloudflare token fields; each one given replaces that field.',
        fields: {
          policies: { type: 'array', minItems: 1, description: 'Cloudflare `policies`: [{effect, permission_groups, resources}] (replaces the list).' },
          condition: { type: 'object', description: 'Cloudflare `condition`, e.g. {request_ip: {in: ["192.0.2.0/24"]}}.' },
          not_before: { type: 'date', graphqlName: 'notBefore', description: 'Cloudflare `not_before`.' },
        },
      },
    },
  },
  {
    kind: 'cloudflare',
    at: 'cloudflare',
    configSchema: z.object({
      token: z.string().min(1),
      accountId: z
        .string()
        .regex(/^[0-9a-f]{32}$/, 'must be 32 hex digits (a Cloudflare account id)')
        .optional(),
    }),
    secretConfigFields: ['token'],
  },
);

/**
 * Confluent Cloud on the declarative engine (providers/http/engine.ts). The PATCH sends only the
 * fields the patch sets, as Confluent's own Terraform provider does (the docs do not say what an
 * omitted field does). Lists follow `metadata.next` (only its path and query: the next page is
 * asked of the configured host). Errors are `{errors: [{id, status, code, title, detail, source}]}`;
 * the field is `source.pointer` (or `parameter`). A secret appears only in create answers, but
 * `spec.secret` is redacted should one ever come back.
 */
import { z } from 'zod';
import { httpAdapter } from '../http/engine.ts';
import { CONFLUENT_BASE_URL, CONFLUENT_PAGE_SIZE } from './wire.ts';

export interface ConfluentConfig {
  baseUrl: string;
  /** A Cloud API key id and secret, sent as HTTP Basic. */
  apiKey: string;
  apiSecret: string;
}

export const confluentAdapter = httpAdapter<Omit<ConfluentConfig, 'baseUrl'>>(
  {
    baseUrl: CONFLUENT_BASE_URL,
    auth: { type: 'basic', username: '{{ config.apiKey }}', password: '{{ config.apiSecret }}' },
    update: {
      method: 'PATCH',
      path: '/iam/v2/api-keys/{{ id }}',
      body: { spec: { display_name: '{{ patch.name }}', description: '{{ patch.confluent.description }}' } },
    },
    read: { path: '/iam/v2/api-keys/{{ id }}' },
    list: {
      path: '/iam/v2/api-keys',
      query: { page_size: CONFLUENT_PAGE_SIZE },
      items: 'body.data',
      pagination: { type: 'nextLink', next: 'body.metadata.next' },
    },
    key: { id: '{{ key.id }}', name: '{{ key.spec.display_name }}', updatedAt: '{{ key.metadata.updated_at }}' },
    errors: {
      items: 'body.errors',
      code: 'error.code',
      message: 'error.detail ?? error.title',
      field: 'error.source.pointer ?? error.source.parameter',
      traceId: 'error.id ?? headers.x-request-id',
    },
    secretBodyFields: ['spec.secret'],
    // vendor-facts-2 §6: X-RateLimit-Limit, -Remaining and -Reset, the reset in seconds from now (not a Unix time).
    rateLimitHeaders: { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'seconds' },
    patch: {
      name: { minLength: 1 },
      confluent: { description: 'Confluent Cloud API key fields.', fields: { description: { type: 'string', description: 'Confluent `spec.description`.' } } },
    },
  },
  {
    kind: 'confluent',
    at: 'confluent',
    configSchema: z.object({
      apiKey: z
        .string()
        .min(1)
        .regex(/^[^:]+$/, 'must not contain ":" (HTTP Basic user)'),
      apiSecret: z.string().min(1),
    }),
    secretConfigFields: ['apiKey', 'apiSecret'],
  },
);

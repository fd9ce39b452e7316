/**
 * Datadog on the declarative engine (providers/http/engine.ts). The PATCH is JSON:API and needs
 * `name` every time (name is the only field keygate changes). PATCH and GET answers carry the full
 * secret (`attributes.key`): redacted in `raw`, previews and logs. Errors are `{errors: [string]}`,
 * some endpoints sending objects: both are read. On 429 the wait is `X-RateLimit-Reset` (seconds).
 */
import { z } from 'zod';
import { httpAdapter } from '../http/engine.ts';
import { DATADOG_DEFAULT_SITE, DATADOG_PAGE_SIZE, DATADOG_SITES } from './wire.ts';

export interface DatadogConfig {
  baseUrl: string;
  /** `DD-API-KEY` */
  apiKey: string;
  /** `DD-APPLICATION-KEY`, with `api_keys_write` (and `api_keys_read` for reads). */
  appKey: string;
  /** The Datadog site; the base URL is `https://api.{site}` unless `baseUrl` is set. */
  site: (typeof DATADOG_SITES)[number];
}

export const datadogAdapter = httpAdapter<Omit<DatadogConfig, 'baseUrl'>>(
  {
    baseUrl: 'https://api.{{ config.site }}',
    auth: { type: 'headers', headers: { 'DD-API-KEY': '{{ config.apiKey }}', 'DD-APPLICATION-KEY': '{{ config.appKey }}' } },
    update: {
      method: 'PATCH',
      path: '/api/v2/api_keys/{{ id }}',
      body: { data: { type: 'api_keys', id: '{{ id }}', attributes: { name: '{{ patch.name }}' } } },
    },
    read: { path: '/api/v2/api_keys/{{ id }}' },
    readKey: 'body.data',
    updateKey: 'body.data',
    list: {
      path: '/api/v2/api_keys',
      items: 'body.data',
      pagination: { type: 'page', param: 'page[number]', start: 0, sizeParam: 'page[size]', size: DATADOG_PAGE_SIZE },
    },
    key: { id: '{{ key.id }}', name: '{{ key.attributes.name }}', updatedAt: '{{ key.attributes.modified_at }}' },
    errors: {
      items: 'body.errors',
      message: 'error.detail ?? error.title ?? error.message ?? error | string',
      code: 'error.code',
    },
    secretBodyFields: ['attributes.key', 'data.attributes.key'],
    patch: { name: { minLength: 1 } },
    // vendor-facts-2 §4: X-RateLimit-Limit, -Period, -Remaining, -Reset (seconds until the reset) and -Name.
    rateLimitHeaders: { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'seconds' },
  },
  {
    kind: 'datadog',
    at: 'datadog',
    configSchema: z.object({ apiKey: z.string().min(1), appKey: z.string().min(1), site: z.enum(DATADOG_SITES).default(DATADOG_DEFAULT_SITE) }),
    secretConfigFields: ['apiKey', 'appKey'],
  },
);

/**
 * SendGrid on the declarative engine (providers/http/engine.ts). A name-only change is
 * `PATCH {name}`; a change of scopes is `PUT {name, scopes}` (scopes replace the set), and since
 * PUT needs the name, the key is read first when the patch has none. The single-key GET is
 * `{result: [key]}` in the spec and flat in some answers: both are read. The list has no
 * pagination beyond `limit` (as the official SDKs: one call). Name limits are not documented:
 * only "not empty" is checked locally.
 */
import { z } from 'zod';
import { httpAdapter } from '../http/engine.ts';
import { SENDGRID_BASE_URL, SENDGRID_LIST_LIMIT } from './wire.ts';

export interface SendGridConfig {
  baseUrl: string;
  /** An API key with `api_keys.*` scopes, sent as Bearer. */
  token: string;
  /** A subuser (or `account-id <id>`), sent as `on-behalf-of`. */
  onBehalfOf?: string;
}

export const sendgridAdapter = httpAdapter<Omit<SendGridConfig, 'baseUrl'>>(
  {
    baseUrl: SENDGRID_BASE_URL,
    auth: { type: 'headers', headers: { authorization: 'Bearer {{ config.token }}', 'on-behalf-of': '{{ config.onBehalfOf }}' } },
    update: [
      { when: { set: ['roles'] }, method: 'PUT', path: '/api_keys/{{ id }}', body: { name: '{{ patch.name ?? current.name }}', scopes: '{{ patch.roles }}' } },
      { method: 'PATCH', path: '/api_keys/{{ id }}', body: { name: '{{ patch.name }}' } },
    ],
    readBeforeWrite: { set: ['roles'], unset: ['name'] },
    read: { path: '/api_keys/{{ id }}' },
    readKey: 'body.result[0] ?? body',
    list: { path: '/api_keys', query: { limit: SENDGRID_LIST_LIMIT }, items: 'body.result' },
    key: { id: '{{ key.api_key_id ?? id }}', name: '{{ key.name }}', roles: '{{ key.scopes }}' },
    errors: {
      items: 'body.errors',
      message: 'error.message',
      field: 'error.field',
      traceId: 'body.id',
    },
    patch: { name: { minLength: 1 }, roles: { minItems: 1, minLength: 1 } },
    // vendor-facts-2 §3: X-RateLimit-Limit, -Remaining and -Reset (a Unix time) on answers.
    rateLimitHeaders: { format: 'fields', remaining: 'X-RateLimit-Remaining', reset: 'X-RateLimit-Reset', resetUnit: 'epochSeconds' },
  },
  {
    kind: 'sendgrid',
    at: 'sendgrid',
    configSchema: z.object({ token: z.string().min(1), onBehalfOf: z.string().min(1).optional() }),
    secretConfigFields: ['token'],
  },
);

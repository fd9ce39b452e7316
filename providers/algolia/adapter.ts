/**
 * Algolia API keys on the declarative engine (providers/http/engine.ts). The PUT replaces the key:
 * "any unspecified attribute resets that attribute to its default value", so every update reads the
 * key and writes back every attribute with the patch applied (read-modify-write, one at a time per
 * key). The key's id is the key itself (`idIsSecret`), and list items and reads carry it as
 * `value`: redacted in `raw`. Algolia applies a change with a delay and answers `{key, updatedAt}`
 * only, so `raw` is the key as written (the clients' `waitForApiKey` polling is not done: the
 * answer says what was sent, a read right after may still show the old key). All calls go to the
 * write host `https://{applicationId}.algolia.net`, as the clients do first for writes.
 */
import { z } from 'zod';
import { httpAdapter } from '../http/engine.ts';
import { ALGOLIA_ACL } from './wire.ts';

export interface AlgoliaConfig {
  baseUrl: string;
  applicationId: string;
  /** An admin API key (update, list and delete need it). */
  apiKey: string;
}

const attributes = ['acl', 'description', 'indexes', 'maxHitsPerQuery', 'maxQueriesPerIPPerHour', 'queryParameters', 'referers', 'validity'];
const count = { type: 'integer' as const, min: 0 };

export const algoliaAdapter = httpAdapter<Omit<AlgoliaConfig, 'baseUrl'>>(
  {
    baseUrl: 'https://{{ config.applicationId }}.algolia.net',
    auth: { type: 'headers', headers: { 'x-algolia-application-id': '{{ config.applicationId }}', 'x-algolia-api-key': '{{ config.apiKey }}' } },
    update: {
      method: 'PUT',
      path: '/1/keys/{{ id }}',
      body: {
        $merge: [
          Object.fromEntries(attributes.map((a) => [a, `{{ current.${a} }}`])),
          {
            description: '{{ patch.name }}',
            acl: '{{ patch.roles }}',
            indexes: '{{ patch.algolia.indexes }}',
            referers: '{{ patch.algolia.referers }}',
            validity: '{{ patch.algolia.validity }}',
            maxHitsPerQuery: '{{ patch.algolia.maxHitsPerQuery }}',
            maxQueriesPerIPPerHour: '{{ patch.algolia.maxQueriesPerIPPerHour }}',
            queryParameters: '{{ patch.algolia.queryParameters }}',
          },
        ],
      },
    },
    readBeforeWrite: true,
    read: { path: '/1/keys/{{ id }}' },
    updateKey: 'sent',
    updateCheck: 'body.updatedAt',
    list: { path: '/1/keys', items: 'body.keys' },
    key: { id: '{{ key.value ?? id }}', name: '{{ key.description }}', roles: '{{ key.acl }}', updatedAt: '{{ body.updatedAt }}' },
    errors: { message: 'body.message' },
    secretBodyFields: ['value'],
    idIsSecret: true,
    patch: {
      name: {},
      roles: { minItems: 1, allowed: ALGOLIA_ACL },
      algolia: {
        description: 'Algolia key attributes; each one given replaces that attribute.',
        fields: {
          indexes: { type: 'array', items: 'string', description: 'Algolia `indexes` (empty: all).' },
          referers: { type: 'array', items: 'string', description: 'Algolia `referers`.' },
          validity: { ...count, description: 'Algolia `validity`: seconds until the key expires (0: never).' },
          maxHitsPerQuery: { ...count, description: 'Algolia `maxHitsPerQuery` (0: no limit).' },
          maxQueriesPerIPPerHour: { ...count, description: 'Algolia `maxQueriesPerIPPerHour` (0: no limit).' },
          queryParameters: { type: 'string', description: 'Algolia `queryParameters` (URL-encoded).' },
        },
      },
    },
  },
  {
    kind: 'algolia',
    at: 'algolia',
    configSchema: z.object({
      applicationId: z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'must be an Algolia application id (letters and digits)'),
      apiKey: z.string().min(1),
    }),
    secretConfigFields: ['apiKey'],
  },
);

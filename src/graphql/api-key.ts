import type { ApiKey } from '../core/context.ts';
import { providerKindEnum } from './provider-kind.ts';
import { builder } from './builder.ts';

export const TagRef = builder.objectRef<{ key: string; value: string | null }>('Tag').implement({
  description: 'A tag on a key. Tyk tags are plain strings, so their value is null.',
  fields: (t) => ({
    key: t.exposeString('key'),
    value: t.exposeString('value', { nullable: true }),
  }),
});

export const ApiKeyRef = builder.objectRef<ApiKey>('ApiKey').implement({
  description: "A vendor's API key as keygate sees it; fields the vendor's answer lacks are null.",
  fields: (t) => ({
    provider: t.exposeString('provider', { description: 'The provider connection, as the client named it.' }),
    kind: t.field({ type: providerKindEnum, resolve: (k) => k.kind }),
    id: t.exposeID('id'),
    name: t.exposeString('name', { nullable: true }),
    enabled: t.exposeBoolean('enabled', { nullable: true }),
    roles: t.exposeStringList('roles', { nullable: true }),
    tags: t.field({ type: [TagRef], nullable: true, resolve: (k) => k.tags }),
    expiresAt: t.expose('expiresAt', { type: 'DateTime', nullable: true }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', nullable: true }),
    fetchedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: "When keygate read (or wrote) this value at the vendor; older than now when served from the connection's read cache (`cache.ttlSeconds`).",
      resolve: (k) => k.fetchedAt ?? null,
    }),
    raw: t.field({
      type: 'JSON',
      description:
        'The vendor\'s response body, secret fields replaced by "[redacted]". Tyk answers a PUT with a status line only, so for Tyk this is the session as written.',
      resolve: (k) => k.raw,
    }),
  }),
});

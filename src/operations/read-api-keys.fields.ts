import { listApiKeys, MAX_PAGE_SIZE, readApiKey, type ApiKeyPage } from './read-api-keys.ts';
import type { ApiKey } from '../core/context.ts';
import { ApiKeyRef } from '../graphql/api-key.ts';
import { builder, QueryRootRef } from '../graphql/builder.ts';

export const PageInfoRef = builder.objectRef<ApiKeyPage['pageInfo']>('PageInfo').implement({
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage'),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage'),
    startCursor: t.exposeString('startCursor', { nullable: true }),
    endCursor: t.exposeString('endCursor', { nullable: true }),
  }),
});

const ApiKeyEdgeRef = builder.objectRef<{ cursor: string; node: ApiKey }>('ApiKeyEdge').implement({
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque; pass it as `after` to continue after this key.' }),
    node: t.field({ type: ApiKeyRef, resolve: (e) => e.node }),
  }),
});

const ApiKeyConnectionRef = builder.objectRef<ApiKeyPage>('ApiKeyConnection').implement({
  description: 'A page of a vendor’s keys, in the Relay cursor-connection shape.',
  fields: (t) => ({
    edges: t.field({ type: [ApiKeyEdgeRef], resolve: (c) => c.edges }),
    pageInfo: t.field({ type: PageInfoRef, resolve: (c) => c.pageInfo }),
  }),
});

builder.queryField('apiKey', (t) =>
  t.field({
    type: ApiKeyRef,
    nullable: true,
    description: 'One key; null when the vendor says it does not exist. UNSUPPORTED_OPERATION where the vendor has no read (see Provider.operations).',
    args: { provider: t.arg.string({ required: true }), id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => readApiKey(ctx, args.provider, String(args.id)),
  }),
);

builder.queryField('apiKeys', (t) =>
  t.field({
    type: ApiKeyConnectionRef,
    description: `A page of the vendor’s keys. \`first\` is 1..${MAX_PAGE_SIZE}. UNSUPPORTED_OPERATION where the vendor has no list.`,
    args: {
      provider: t.arg.string({ required: true }),
      first: t.arg.int({ defaultValue: 50 }),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => listApiKeys(ctx, args.provider, args.first ?? 50, args.after),
  }),
);

builder.mutationField('query', (t) =>
  t.field({
    type: QueryRootRef,
    description:
      'The Query root, resolved after the mutations before it: read back what you just changed in the same operation (the request’s loaders are primed by each update, so this costs no vendor call).',
    resolve: () => ({}),
  }),
);

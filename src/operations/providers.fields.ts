import { hasScope, SCOPE_ACTIONS } from '../auth/scopes.ts';
import type { Connection } from '../core/connections.ts';
import { operationsOf } from '../../providers/types.ts';
import { builder } from '../graphql/builder.ts';
import { ProviderHealthRef } from '../graphql/provider-health.ts';
import { providerKindEnum } from '../graphql/provider-kind.ts';

export const ProviderRef = builder.objectRef<Connection>('Provider').implement({
  description: 'A configured provider connection.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'What clients pass as `provider`.' }),
    kind: t.field({ type: providerKindEnum, resolve: (c) => c.kind }),
    operations: t.stringList({
      description: 'What this provider offers: read (apiKey), list (apiKeys), update, preview.',
      resolve: (c) => operationsOf(c.adapter),
    }),
    patchFields: t.stringList({
      description: 'The ApiKeyPatch fields this provider can change; others are refused with UNSUPPORTED_FIELD.',
      resolve: (c) => [...c.adapter.patchFields],
    }),
    health: t.field({
      type: ProviderHealthRef,
      description: "This connection's circuit breaker.",
      resolve: (c) => c.resilience.health(),
    }),
  }),
});

builder.queryField('providers', (t) =>
  t.field({
    type: [ProviderRef],
    description: 'Every configured provider connection the caller holds some scope on.',
    resolve: (_root, _args, ctx) => ctx.connections.list().filter((c) => SCOPE_ACTIONS.some((a) => hasScope(ctx.caller, a, c.name))),
  }),
);

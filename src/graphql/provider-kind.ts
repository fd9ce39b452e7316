import { providerKinds } from '../../providers/index.ts';
import type { ProviderKind } from '../../providers/types.ts';
import { builder } from './builder.ts';

export const providerKindEnum = builder.enumType('ProviderKind', {
  description: 'The vendor a provider connection talks to.',
  values: Object.fromEntries([...providerKinds, 'http' as const].map((k) => [k.toUpperCase(), { value: k }])) as Record<string, { value: ProviderKind }>,
});

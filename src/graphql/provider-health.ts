import type { CircuitState, Health } from '../upstream/resilience.ts';
import { builder } from './builder.ts';

const CIRCUIT_STATES: CircuitState[] = ['CLOSED', 'OPEN', 'HALF_OPEN'];

export const circuitStateEnum = builder.enumType('CircuitState', {
  description: "A provider connection's circuit breaker (see docs/resilience.md).",
  values: Object.fromEntries(CIRCUIT_STATES.map((s) => [s, { value: s }])) as Record<CircuitState, { value: CircuitState }>,
});

export const ProviderHealthRef = builder.objectRef<Health>('ProviderHealth').implement({
  description: 'How the vendor behind a provider connection has been answering keygate.',
  fields: (t) => ({
    state: t.field({
      type: circuitStateEnum,
      description: 'CLOSED: calls go through. OPEN: calls fail fast with UPSTREAM_UNAVAILABLE. HALF_OPEN: one probe call may go.',
      resolve: (h) => h.state,
    }),
    consecutiveFailures: t.exposeInt('consecutiveFailures', {
      description: "Upstream attempts in a row that failed by the vendor's fault (5xx, timeouts, connection errors).",
    }),
  }),
});

/**
 * Prometheus metrics (prom-client), one registry per gateway. Labels carry only configured
 * provider names, kinds, methods, status classes and error codes — never a key id, caller name,
 * token, caller secret or anything a client typed (an unknown provider is labelled "(unknown)").
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface Metrics {
  registry: Registry;
  upstreamRequests: Counter<'provider' | 'kind' | 'method' | 'status_class'>;
  upstreamDuration: Histogram<'provider' | 'kind' | 'method'>;
  upstreamRetries: Counter<'provider' | 'kind'>;
  outcomes: Counter<'provider' | 'operation' | 'code'>;
  breakerState: Gauge<'provider' | 'kind'>;
  rateLimitWait: Histogram<'provider' | 'kind'>;
  rateLimitRefused: Counter<'provider' | 'kind'>;
  rateLimited: Counter<'provider' | 'kind'>;
  auditWriteDuration: Histogram<'store'>;
  operationDuration: Histogram<'operation_type'>;
  graphqlErrors: Counter<'code'>;
  reloads: Counter<'result'>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'keygate_' });
  const seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  return {
    registry,
    upstreamRequests: new Counter({
      name: 'keygate_upstream_requests_total',
      help: 'Upstream HTTP requests, by provider connection, kind, method and status class (2xx..5xx, or "error" when no answer came).',
      labelNames: ['provider', 'kind', 'method', 'status_class'],
      registers: [registry],
    }),
    upstreamDuration: new Histogram({
      name: 'keygate_upstream_request_duration_seconds',
      help: 'Upstream HTTP request latency.',
      labelNames: ['provider', 'kind', 'method'],
      buckets: seconds,
      registers: [registry],
    }),
    upstreamRetries: new Counter({
      name: 'keygate_upstream_retries_total',
      help: 'Upstream attempts beyond the first.',
      labelNames: ['provider', 'kind'],
      registers: [registry],
    }),
    outcomes: new Counter({
      name: 'keygate_operation_outcomes_total',
      help: 'Outcomes of key operations (update, read, list, preview), by provider and code ("OK" on success).',
      labelNames: ['provider', 'operation', 'code'],
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'keygate_circuit_breaker_state',
      help: 'Circuit breaker state per provider connection: 0 closed, 1 half-open, 2 open.',
      labelNames: ['provider', 'kind'],
      registers: [registry],
    }),
    rateLimitWait: new Histogram({
      name: 'keygate_rate_limit_wait_seconds',
      help: "Time an upstream exchange waited for a token of its connection's rate-limit bucket.",
      labelNames: ['provider', 'kind'],
      buckets: [0, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    rateLimitRefused: new Counter({
      name: 'keygate_rate_limit_refused_total',
      help: "Calls refused for budget (no token within the call's deadline, or the shared store unreachable); nothing was sent.",
      labelNames: ['provider', 'kind'],
      registers: [registry],
    }),
    rateLimited: new Counter({
      name: 'keygate_upstream_rate_limited_total',
      help: "Vendor answers 429 (each pauses the connection's bucket).",
      labelNames: ['provider', 'kind'],
      registers: [registry],
    }),
    auditWriteDuration: new Histogram({
      name: 'keygate_audit_write_duration_seconds',
      help: 'Audit log write latency.',
      labelNames: ['store'],
      buckets: seconds,
      registers: [registry],
    }),
    operationDuration: new Histogram({
      name: 'keygate_graphql_operation_duration_seconds',
      help: 'GraphQL operation duration, by operation type.',
      labelNames: ['operation_type'],
      buckets: seconds,
      registers: [registry],
    }),
    graphqlErrors: new Counter({
      name: 'keygate_graphql_errors_total',
      help: 'Errors in GraphQL responses, by code.',
      labelNames: ['code'],
      registers: [registry],
    }),
    reloads: new Counter({
      name: 'keygate_config_reloads_total',
      help: 'Configuration reloads (SIGHUP), by result.',
      labelNames: ['result'],
      registers: [registry],
    }),
  };
}

/** 2xx, 4xx, ... */
export function statusClass(status: number): string {
  return `${Math.floor(status / 100)}xx`;
}

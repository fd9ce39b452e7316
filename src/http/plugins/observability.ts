/**
 * GraphQL-level metrics (operation duration, errors by code) and the operator endpoints on the
 * main port: `/ready` (readiness) and, unless a separate metrics port is configured, `/metrics`.
 * Liveness is yoga's own `/health`.
 */
import type { DefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../../observability/metrics.ts';

export interface ReadinessCheck {
  name: string;
  /** Resolves to undefined when ready, or to why not. */
  check(): Promise<string | undefined> | string | undefined;
}

export async function readiness(checks: readonly ReadinessCheck[]): Promise<{ ready: boolean; checks: Record<string, string> }> {
  const results: Record<string, string> = {};
  let ready = true;
  for (const c of checks) {
    let problem: string | undefined;
    try {
      problem = await c.check();
    } catch (err) {
      problem = (err as Error).message;
    }
    results[c.name] = problem ?? 'ok';
    if (problem) ready = false;
  }
  return { ready, checks: results };
}

export interface ObservabilityOptions {
  metrics: Metrics;
  /** Serve /metrics on the main port (false when `metrics.port` is set). */
  serveMetrics: boolean;
  checks: readonly ReadinessCheck[];
}

export function useObservability(options: ObservabilityOptions): Plugin {
  const { metrics } = options;
  const started = new WeakMap<object, { at: number; type: string }>();
  return {
    // Not async: a GraphQL request passes through without a promise; only these two paths wait.
    onRequest({ url, endResponse, fetchAPI }) {
      if (url.pathname === '/ready')
        return readiness(options.checks).then((r) =>
          endResponse(
            new fetchAPI.Response(JSON.stringify({ status: r.ready ? 'ready' : 'not ready', checks: r.checks }), {
              status: r.ready ? 200 : 503,
              headers: { 'content-type': 'application/json' },
            }),
          ),
        );
      if (url.pathname === '/metrics' && options.serveMetrics)
        return metrics.registry
          .metrics()
          .then((text) => endResponse(new fetchAPI.Response(text, { status: 200, headers: { 'content-type': metrics.registry.contentType } })));
    },
    onExecute({ args }) {
      const type = args.document.definitions.find((d: DefinitionNode) => d.kind === 'OperationDefinition');
      started.set(args.contextValue as object, {
        at: performance.now(),
        type: type && 'operation' in type ? type.operation : 'unknown',
      });
      return {
        onExecuteDone() {
          const s = started.get(args.contextValue as object);
          if (s) metrics.operationDuration.observe({ operation_type: s.type }, (performance.now() - s.at) / 1000);
        },
      };
    },
    onResultProcess({ result }) {
      const results = Array.isArray(result) ? result : [result];
      for (const r of results) {
        const errors = (r as { errors?: readonly { extensions?: Record<string, unknown> }[] }).errors;
        for (const e of errors ?? []) metrics.graphqlErrors.inc({ code: String(e.extensions?.code ?? 'UNKNOWN') });
      }
    },
  };
}

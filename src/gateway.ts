/**
 * createGateway(config) -> a yoga instance serving keygate's schema, the provider connections it
 * owns, its metrics, and `reload(config)`: a new set of connections swapped in atomically, while
 * requests already running finish with the connections they started with.
 */
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.ts';
import { createConnections, type Connections } from './connections.ts';
import type { GatewayContext } from './context.ts';
import { createLoaders } from './loaders.ts';
import { createLogger, type Logger } from './log.ts';
import { createMetrics, type Metrics } from './metrics.ts';
import { useObservability, type ReadinessCheck } from './plugins/observability.ts';
import { requestIdOf, useRequestId } from './plugins/request-id.ts';
import { useTracing } from './plugins/tracing.ts';
import { schema } from './schema/index.ts';
import { createTracing } from './tracing.ts';

export interface GatewayOptions {
  config: Config;
  log?: Logger;
  /** Serve GraphiQL at the endpoint (default true). */
  graphiql?: boolean;
  /** Serve /metrics on the main port (default true; false when a separate metrics port is used). */
  serveMetrics?: boolean;
  /** Extra readiness checks (e.g. the audit store). */
  readinessChecks?: ReadinessCheck[];
}

export interface Gateway {
  yoga: YogaServerInstance<Record<string, never>, GatewayContext>;
  log: Logger;
  metrics: Metrics;
  /** The connections new requests get. */
  connections(): Connections;
  /** Swaps in a new config's connections; requests in flight finish with the old ones. */
  reload(config: Config): Promise<void>;
  /** Marks the gateway as shutting down: /ready answers 503. */
  drain(): void;
  close(): Promise<void>;
}

/** One config's connections, and how many requests are still using them. */
interface Generation {
  connections: Connections;
  active: number;
  retired: boolean;
}

export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? createLogger();
  const metrics = createMetrics();
  const tracing = createTracing(options.config.tracing);
  let current: Generation = { connections: createConnections(options.config, metrics), active: 0, retired: false };
  let draining = false;
  const generationOf = new WeakMap<Request, Generation>();

  const release = (g: Generation) => {
    g.active -= 1;
    if (g.retired && g.active === 0) void g.connections.close();
  };

  const checks: ReadinessCheck[] = [
    { name: 'config', check: () => (current.connections.list().length > 0 ? undefined : 'no provider connections') },
    { name: 'draining', check: () => (draining ? 'shutting down' : undefined) },
    ...(options.readinessChecks ?? []),
  ];

  const yoga = createYoga<Record<string, never>, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: options.graphiql ?? true,
    landingPage: false,
    // Liveness: yoga's own /health (200 while the process serves). Readiness: /ready, below.
    healthCheckEndpoint: '/health',
    // Only GatewayErrors (GraphQLErrors with a code) reach clients; anything else is a bug and masked.
    maskedErrors: true,
    logging: {
      debug: (...args) => log.debug({ args }, 'yoga'),
      info: (...args) => log.info({ args }, 'yoga'),
      warn: (...args) => log.warn({ args }, 'yoga'),
      error: (...args) => log.error({ err: args[0] }, 'yoga error'),
    },
    plugins: [
      {
        // Pin each request to the connections current when it arrived.
        onRequest({ request }) {
          const g = current;
          g.active += 1;
          generationOf.set(request, g);
        },
        onResponse({ request }) {
          const g = generationOf.get(request);
          if (g) {
            generationOf.delete(request);
            release(g);
          }
        },
      },
      useRequestId(),
      useObservability({ metrics, serveMetrics: options.serveMetrics ?? true, checks }),
      useTracing(tracing),
    ],
    context: (initial) => {
      const requestId = requestIdOf(initial.request);
      const connections = (generationOf.get(initial.request) ?? current).connections;
      const ctx = { ...initial, connections, log: log.child({ requestId }), requestId, metrics, tracing } as GatewayContext;
      ctx.loaders = createLoaders(ctx);
      return ctx;
    },
  });

  return {
    yoga,
    log,
    metrics,
    connections: () => current.connections,
    async reload(config) {
      const previous = current;
      current = { connections: createConnections(config, metrics), active: 0, retired: false };
      previous.retired = true;
      if (previous.active === 0) await previous.connections.close();
    },
    drain: () => void (draining = true),
    close: async () => {
      draining = true;
      await current.connections.close();
      await tracing.shutdown();
    },
  };
}

/**
 * createGateway(config) -> a yoga instance serving keygate's schema, the provider connections it
 * owns, its metrics, and `reload(config)`: a new set of connections swapped in atomically, while
 * requests already running finish with the connections they started with.
 */
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { useCSRFPrevention } from '@graphql-yoga/plugin-csrf-prevention';
import { useDisableIntrospection } from '@graphql-yoga/plugin-disable-introspection';
import type { GraphQLError, ValidationContext } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { AuditStore } from '../audit/model.ts';
import { createAuthenticator } from '../auth/callers.ts';
import type { Caller } from '../auth/scopes.ts';
import type { Config } from '../config/schema.ts';
import { useConsole } from './console-assets.ts';
import { createMemoryBucketStore } from '../upstream/rate-limit.ts';
import { createRedisBucketStores } from '../upstream/redis-buckets.ts';
import { createJobRunner } from '../jobs/runner.ts';
import type { Jobs, JobStore } from '../jobs/store.ts';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.ts';
import { createConnections, type Connections, type ConnectionsOptions } from '../core/connections.ts';
import type { GatewayContext } from '../core/context.ts';
import { withLoaders } from '../core/loaders.ts';
import { createLogger, LazyChildLog, type Logger, type RequestLog } from '../observability/log.ts';
import { createMetrics, type Metrics } from '../observability/metrics.ts';
import { callerOf, useAuth } from './plugins/auth.ts';
import { useBodyLimit } from './plugins/body-limit.ts';
import { useCostLimit } from './plugins/cost-limit.ts';
import { useObservability, type ReadinessCheck } from './plugins/observability.ts';
import { useRequestParsers } from './plugins/request-parser.ts';
import { requestIdOf, useRequestId } from './plugins/request-id.ts';
import { useTracing } from './plugins/tracing.ts';
import { schema } from '../graphql/schema.ts';
import { createTracing } from '../observability/tracing.ts';

export interface GatewayOptions {
  config: Config;
  log?: Logger;
  /** Serve GraphiQL at the endpoint (default: the config's `server.graphiql`). */
  graphiql?: boolean;
  /** What GraphiQL's editor starts with (the sandbox puts its examples there). */
  graphiqlDefaultQuery?: string;
  /** Key ids the console suggests per provider (the sandbox's demo keys). */
  consoleKeyHints?: Record<string, string[]>;
  /** The opened audit store (src/audit/model.ts); undefined when the audit log is off. */
  audit?: AuditStore;
  /** Serve /metrics on the main port (default true; false when a separate metrics port is used). */
  serveMetrics?: boolean;
  /** Extra readiness checks (e.g. the audit store). */
  readinessChecks?: ReadinessCheck[];
  /** The time source of the connections' deadlines and waits (tests drive it; default real). */
  clock?: Clock;
}

export interface Gateway {
  yoga: YogaServerInstance<Record<string, never>, GatewayContext>;
  log: Logger;
  metrics: Metrics;
  /** The connections new requests get. */
  connections(): Connections;
  /** Swaps in a new config's connections; requests in flight finish with the old ones. */
  reload(config: Config): Promise<void>;
  /** Requests being answered right now (all generations). */
  inFlight(): number;
  /** Marks the gateway as shutting down: /ready answers 503. */
  drain(): void;
  /** Closes the pools once their calls are done; `force` aborts the calls still running. */
  close(force?: boolean): Promise<void>;
}

/** Headers that prove a request was not a "simple" one a foreign page could send (CSRF). */
export const CSRF_HEADERS = ['x-graphql-yoga-csrf', 'x-requested-with'];
const CORS_HEADERS = ['content-type', 'authorization', 'x-request-id', ...CSRF_HEADERS];
const asValidationError = {
  propagateOnRejection: false,
  onReject: [(ctx: ValidationContext | null, error: GraphQLError) => ctx?.reportError(error)],
};
const NOBODY: Caller = Object.freeze({ name: '(unauthenticated)', scopes: [], via: 'token' });

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
  const { audit } = options;
  const { server: edge, limits } = options.config;
  // With PostgreSQL the per-key lock and the rate-limit buckets also hold across replicas; a
  // connection naming a Redis (`rateLimit.store`) keeps its bucket there. Both outlive reloads.
  const redisBuckets = createRedisBucketStores(log);
  const connectionOptions: ConnectionsOptions = {
    sharedLock: audit?.createKeyLock?.bind(audit),
    buckets: audit?.createBucketStore?.() ?? createMemoryBucketStore(),
    redisBuckets,
    log,
    clock: options.clock,
  };
  let authenticator = createAuthenticator(options.config.auth);
  // Bulk update jobs live in the audit store's database; every replica runs jobs whose lease it holds.
  const jobStore = audit?.jobs;
  const runner =
    audit && jobStore
      ? createJobRunner({
          audit: audit as AuditStore & { jobs: JobStore },
          connections: () => current.connections,
          log,
          metrics,
          owner: `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`,
          singleProcess: audit.kind === 'sqlite',
        })
      : undefined;
  const jobs: Jobs | undefined = jobStore && runner ? { store: jobStore, runner, maxJobItems: limits.maxJobItems } : undefined;
  let current: Generation = { connections: createConnections(options.config, metrics, connectionOptions), active: 0, retired: false };
  let draining = false;
  let inFlight = 0;
  const generationOf = new WeakMap<Request, Generation>();

  const release = (g: Generation) => {
    g.active -= 1;
    if (g.retired && g.active === 0) void g.connections.close();
  };

  const checks: ReadinessCheck[] = [
    { name: 'config', check: () => (current.connections.list().length > 0 ? undefined : 'no provider connections') },
    { name: 'draining', check: () => (draining ? 'shutting down' : undefined) },
    ...(audit ? [{ name: 'audit', check: () => audit.check() }] : []),
    ...(options.readinessChecks ?? []),
  ];

  const yoga = createYoga<Record<string, never>, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql:
      (options.graphiql ?? edge.graphiql) &&
      (options.graphiqlDefaultQuery ? { title: 'keygate', defaultQuery: options.graphiqlDefaultQuery } : { title: 'keygate' }),
    // GraphiQL's assets are served by keygate itself (no CDN), loaded only when the page is asked for.
    renderGraphiQL: async (graphiqlOptions) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(graphiqlOptions),
    landingPage: false,
    // Liveness: yoga's own /health (200 while the process serves). Readiness: /ready, below.
    healthCheckEndpoint: '/health',
    // Only GatewayErrors (GraphQLErrors with a code) reach clients; anything else is a bug and masked,
    // whatever NODE_ENV says (yoga's isDev would otherwise leak messages and stacks).
    maskedErrors: { isDev: false },
    // Yoga's default CORS echoes any Origin with credentials: off unless an allow-list is configured.
    cors:
      edge.cors.origins.length > 0
        ? { origin: edge.cors.origins, credentials: false, methods: ['GET', 'POST'], allowedHeaders: CORS_HEADERS, maxAge: 600 }
        : false,
    // The body limit is src/http/plugins/body-limit.ts (the same 413, without a stream per request).
    maxRequestBodySize: false,
    // No file uploads in this API: multipart bodies are not parsed at all (one parser less per request).
    multipart: false,
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
          inFlight += 1;
          generationOf.set(request, g);
        },
        onResponse({ request }) {
          const g = generationOf.get(request);
          if (g) {
            inFlight -= 1;
            generationOf.delete(request);
            release(g);
          }
        },
      },
      useRequestId(),
      ...(edge.console ? [useConsole({ log, keyHints: options.consoleKeyHints })] : []),
      useAuth({ authenticator: () => authenticator, log }),
      // A GET, or a POST a browser form could send, must carry a header no simple request can.
      useCSRFPrevention({ requestHeaders: CSRF_HEADERS }),
      ...(edge.introspection ? [] : [useDisableIntrospection()]),
      // A limit broken is a validation error (HTTP 400, GRAPHQL_VALIDATION_FAILED), not a thrown one.
      EnvelopArmorPlugin({
        maxDepth: { n: limits.maxDepth, ...asValidationError },
        maxAliases: { n: limits.maxAliases, ...asValidationError },
        maxTokens: { n: limits.maxTokens },
        // The cost limit is src/http/plugins/cost-limit.ts: armor's cost, with list arguments counted.
        costLimit: { enabled: false },
        maxDirectives: { n: limits.maxDirectives, ...asValidationError },
        // "Did you mean …" would map the schema for whoever cannot introspect it.
        blockFieldSuggestion: { enabled: !edge.introspection },
      }),
      useCostLimit(limits.maxCost),
      useObservability({ metrics, serveMetrics: options.serveMetrics ?? true, checks }),
      useTracing(tracing),
      // Replaces yoga's parsers (media types, charsets, duplicate JSON keys); before the body limit, which wraps it.
      useRequestParsers(),
      // After every request parser has been registered (it wraps the one chosen).
      useBodyLimit(edge.maxBodyBytes),
    ],
    context: (initial) => {
      const requestId = requestIdOf(initial.request);
      const connections = (generationOf.get(initial.request) ?? current).connections;
      // onRequestParse (src/http/plugins/auth.ts) authenticated every GraphQL request; a caller-less one holds no scope.
      const caller = callerOf(initial.request) ?? NOBODY;
      const requestLog: RequestLog = new LazyChildLog(log, { requestId, caller: caller.name });
      return withLoaders<GatewayContext>({
        ...initial,
        caller,
        audit,
        connections,
        log: requestLog,
        requestId,
        metrics,
        tracing,
        maxUpdatesPerRequest: limits.maxUpdatesPerRequest,
        jobs,
      });
    },
  });

  return {
    yoga,
    log,
    metrics,
    connections: () => current.connections,
    inFlight: () => inFlight,
    async reload(config) {
      const previous = current;
      current = { connections: createConnections(config, metrics, connectionOptions), active: 0, retired: false };
      // Caller tokens rotate with the config; the audit store stays as started (a change needs a restart).
      authenticator = createAuthenticator(config.auth);
      previous.retired = true;
      if (previous.active === 0) await previous.connections.close();
    },
    drain: () => {
      draining = true;
    },
    close: async (force) => {
      draining = true;
      await runner?.close();
      await current.connections.close(force);
      await redisBuckets.close();
      await tracing.shutdown();
    },
  };
}

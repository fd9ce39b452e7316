/**
 * createGateway(config) -> a yoga instance serving keygate's schema, plus the connections it owns.
 */
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.ts';
import { createConnections, type Connections } from './connections.ts';
import type { GatewayContext } from './context.ts';
import { createLoaders } from './loaders.ts';
import { createLogger, type Logger } from './log.ts';
import { schema } from './schema/index.ts';

export interface GatewayOptions {
  config: Config;
  log?: Logger;
  /** Serve GraphiQL at the endpoint (default true). */
  graphiql?: boolean;
}

export interface Gateway {
  yoga: YogaServerInstance<Record<string, never>, GatewayContext>;
  connections: Connections;
  log: Logger;
  close(): Promise<void>;
}

export function createGateway(options: GatewayOptions): Gateway {
  const log = options.log ?? createLogger();
  const connections = createConnections(options.config);
  const yoga = createYoga<Record<string, never>, GatewayContext>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: options.graphiql ?? true,
    landingPage: false,
    // Only GatewayErrors (GraphQLErrors with a code) reach clients; anything else is a bug and masked.
    maskedErrors: true,
    logging: {
      debug: (...args) => log.debug({ args }, 'yoga'),
      info: (...args) => log.info({ args }, 'yoga'),
      warn: (...args) => log.warn({ args }, 'yoga'),
      error: (...args) => log.error({ err: args[0] }, 'yoga error'),
    },
    context: (initial) => {
      const ctx = { ...initial, connections, log } as GatewayContext;
      ctx.loaders = createLoaders(ctx);
      return ctx;
    },
  });
  return { yoga, connections, log, close: () => connections.close() };
}

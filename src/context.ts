import type { YogaInitialContext } from 'graphql-yoga';
import type { Connections } from './connections.ts';
import type { Loaders } from './loaders.ts';
import type { Logger } from './log.ts';

/** Per-request state. Anything per request (loaders, caller) lives here, never in module globals. */
export interface GatewayContext extends YogaInitialContext {
  connections: Connections;
  log: Logger;
  /** This request's DataLoaders, one per provider connection. */
  loaders: Loaders;
}

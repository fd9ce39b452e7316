import type { YogaInitialContext } from 'graphql-yoga';
import type { AuditStore } from './audit/store.ts';
import type { Caller } from './auth.ts';
import type { Connections } from './connections.ts';
import type { Loaders } from './loaders.ts';
import type { RequestLog } from './log.ts';
import type { Context as TraceContext } from '@opentelemetry/api';
import type { Metrics } from './metrics.ts';
import type { Tracing } from './tracing.ts';

/** Per-request state. Anything per request (loaders, caller) lives here, never in module globals. */
export interface GatewayContext extends YogaInitialContext {
  /** The authenticated caller (src/plugins/auth.ts), or the open loopback caller without `auth`. */
  caller: Caller;
  /** The audit log; undefined when it is off. */
  audit?: AuditStore;
  connections: Connections;
  log: RequestLog;
  /** This request's DataLoaders, one per provider connection. */
  loaders: Loaders;
  /** Accepted from `x-request-id` or made here; on every error, log line and vendor call. */
  requestId: string;
  metrics: Metrics;
  tracing: Tracing;
  /** `limits.maxUpdatesPerRequest` (src/request-updates.ts). */
  maxUpdatesPerRequest: number;
  /** The operation's span context (set when tracing is on); upstream spans are its children. */
  traceContext?: TraceContext;
}

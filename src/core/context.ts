/**
 * What every key operation runs with, and the GraphQL context that carries it per request.
 * Anything per request (loaders, caller) lives here, never in module globals.
 */
import type { Context as TraceContext } from '@opentelemetry/api';
import type { YogaInitialContext } from 'graphql-yoga';
import type { NormalizedKey, ProviderKind } from '../../providers/types.ts';
import type { AuditStore } from '../audit/model.ts';
import type { Caller } from '../auth/scopes.ts';
import type { RequestLog } from '../observability/log.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { Tracing } from '../observability/tracing.ts';
import type { Connection, Connections } from './connections.ts';
import type { GatewayError } from './errors.ts';
import type { Jobs } from '../jobs/store.ts';

export interface ApiKey extends NormalizedKey {
  provider: string;
  kind: ProviderKind;
  /** When keygate read (or wrote) this value at the vendor: a cached answer is as old as this. */
  fetchedAt?: Date;
}

export interface OperationContext {
  /** Who is asking (src/auth/); every operation checks the caller's scopes first. */
  caller: Caller;
  /** The audit log; undefined when it is off. */
  audit?: AuditStore;
  connections: Connections;
  log: RequestLog;
  /** Per-request DataLoaders (src/core/loaders.ts). */
  loaders: Loaders;
  /** Forwarded to vendors as X-Request-Id. */
  requestId?: string;
  metrics?: Metrics;
  tracing?: Tracing;
  /** The GraphQL operation's span context, parent of upstream spans. */
  traceContext?: TraceContext;
  signal?: AbortSignal;
}

export type LoadedKey = { found: true; key: ApiKey /** Tyk: the session an update starts from. */; current?: unknown } | { found: false; error: GatewayError };

export interface KeyLoader {
  /** Reads a key; a failed read is forgotten, so a retry reads again. */
  load(id: string): Promise<LoadedKey>;
  prime(id: string, value: LoadedKey): void;
  clear(id: string): void;
}

/** This request's DataLoaders, one per provider connection (src/core/loaders.ts). */
export interface Loaders {
  keys(connection: Connection): KeyLoader;
}

/** The GraphQL context: an OperationContext for every resolver, built per request in src/http/gateway.ts. */
export interface GatewayContext extends YogaInitialContext, OperationContext {
  /** Accepted from `x-request-id` or made here; on every error, log line and vendor call. */
  requestId: string;
  metrics: Metrics;
  tracing: Tracing;
  /** `limits.maxUpdatesPerRequest` (src/operations/request-updates.ts). */
  maxUpdatesPerRequest: number;
  /** Bulk update jobs (src/operations/api-key-update-jobs.ts); undefined when the audit store is off. */
  jobs?: Jobs;
}

/**
 * Resilience around one logical vendor call (an update, a read, or Tyk's whole read-modify-write):
 * the place for deadlines, retries, the circuit breaker and the bulkhead of a provider connection.
 *
 * `attempt` performs the call once and throws a GatewayError on failure.
 */
import type { ConnectionConfig } from '../config.ts';

export interface Resilience {
  execute<T>(attempt: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal): Promise<T>;
}

export function createResilience(_config: ConnectionConfig): Resilience {
  return {
    execute: (attempt, signal) => attempt(signal),
  };
}

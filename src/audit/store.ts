/** Opens the configured audit store (the contract and row model are in model.ts). */
import type { AuditConfig } from '../config/schema.ts';
import type { Logger } from '../observability/log.ts';
import type { AuditStore } from './model.ts';

/** Opens (creating or migrating) the configured store; undefined when the audit log is off. */
export async function createAuditStore(config: AuditConfig, log?: Logger): Promise<AuditStore | undefined> {
  if (config.store === 'off') return undefined;
  if (config.store === 'sqlite') {
    const { createSqliteAuditStore } = await import('./sqlite.ts');
    return createSqliteAuditStore(config.path, { synchronous: config.synchronous, log });
  }
  const { createPostgresAuditStore } = await import('./postgres.ts');
  return createPostgresAuditStore(config.url, config.schema);
}

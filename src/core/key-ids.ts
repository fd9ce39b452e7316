/**
 * Key ids as keygate keeps them. Where a key id is itself a live credential (an adapter's
 * `idIsSecret`: Tyk, unless keys are addressed by hash), logs, audit rows, spans and metrics hold
 * its fingerprint instead; answers to the caller who sent the id may echo it.
 */
import { createHash } from 'node:crypto';
import type { Connection } from './connections.ts';

/** `sha256:` and the first 16 hex digits of the id's SHA-256: enough to find it, not to use it. */
export function fingerprintKeyId(id: string): string {
  return `sha256:${createHash('sha256').update(id, 'utf8').digest('hex').slice(0, 16)}`;
}

/** Whether this connection's key ids are credentials. */
export function idIsSecret(connection: Pick<Connection, 'adapter' | 'settings'> | undefined): boolean {
  return connection?.adapter.idIsSecret?.(connection.settings) === true;
}

/** The id as logs, audit rows and spans keep it. */
export function keptKeyId(connection: Pick<Connection, 'adapter' | 'settings'> | undefined, id: string): string {
  return idIsSecret(connection) ? fingerprintKeyId(id) : id;
}

/** An upstream path as logs keep it: the id's path segment replaced by its fingerprint where the id is a credential. */
export function keptPath(connection: Pick<Connection, 'adapter' | 'settings'>, id: string, path: string): string {
  if (!idIsSecret(connection) || id.length === 0) return path;
  return path.split(encodeURIComponent(id)).join(fingerprintKeyId(id));
}

/** The stored forms an audit filter on `keyId` must match: the id, and its fingerprint where some connection keeps that. */
export function keptKeyIdForms(connections: readonly Pick<Connection, 'adapter' | 'settings'>[], id: string): string[] {
  return connections.some((c) => idIsSecret(c)) ? [id, fingerprintKeyId(id)] : [id];
}

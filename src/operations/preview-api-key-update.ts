/**
 * `previewApiKeyUpdate`: every check and every read the update needs, and the exact request(s) it
 * would send — credentials shown as "[redacted]" — plus the key before and the predicted key after.
 * It never writes.
 */
import { readsBeforeWrite, type ApiKeyPatch, type NormalizedKey, type UpstreamRequest } from '../../providers/types.ts';
import { runOperation } from '../core/run-operation.ts';
import { authorize } from '../auth/scopes.ts';
import type { Connection } from '../core/connections.ts';
import { redactBody } from '../core/redact.ts';
import type { PatchSource } from './update-api-key.ts';
import { checkUpdate } from '../core/checks.ts';
import { connectionFor, currentOf } from '../core/call.ts';
import type { ApiKey, OperationContext } from '../core/context.ts';

export interface PlannedRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface ApiKeyUpdatePreview {
  requests: PlannedRequest[];
  before: ApiKey | null;
  after: ApiKey | null;
}

export function previewApiKeyUpdate(ctx: OperationContext, provider: string, id: string, patch: PatchSource): Promise<ApiKeyUpdatePreview> {
  return runOperation(ctx, { operation: 'preview', provider, keyId: id, patch, audited: true }, () => preview(ctx, provider, id, patch));
}

async function preview(ctx: OperationContext, provider: string, id: string, source: PatchSource): Promise<ApiKeyUpdatePreview> {
  // A preview rehearses a write (every check, the exact request): it needs the write scope and is audited.
  authorize(ctx.caller, 'keys:write', provider);
  const connection = connectionFor(ctx, provider);
  const patch = typeof source === 'function' ? source() : source;
  checkUpdate(connection, provider, id, patch);
  const { adapter, settings } = connection;
  const readable = Boolean(adapter.readKey || adapter.readByListing);
  const loader = ctx.loaders.keys(connection);

  const requests: UpstreamRequest[] = [];
  let current: unknown;
  if (readsBeforeWrite(adapter, patch)) {
    requests.push(adapter.readKey!(settings, id));
    current = await connection.resilience.execute(() => currentOf(ctx, connection, id), ctx.signal);
  }
  let before: ApiKey | null = null;
  if (readable) {
    const loaded = await connection.resilience.execute(() => loader.load(id), ctx.signal);
    // The update would fail the same way: say so now rather than preview a write to nothing.
    if (!loaded.found) throw loaded.error;
    before = { ...loaded.key, provider };
  }
  const update = adapter.buildUpdate(settings, id, patch, current);
  requests.push(update);
  const redactedBody = redactBody(update.body, adapter.secretBodyFields, ctx.connections.secrets);
  return {
    requests: requests.map((r) => plan(connection, r, ctx.connections.secrets)),
    before,
    after: predictAfter(connection, provider, id, before, patch, redactedBody),
  };
}

function plan(connection: Connection, req: UpstreamRequest, secrets: readonly string[]): PlannedRequest {
  return {
    method: req.method,
    url: connection.client.urlFor(req),
    headers: connection.client.headersFor(req),
    body: req.body === undefined ? null : redactBody(req.body, connection.adapter.secretBodyFields, secrets),
  };
}

/**
 * What the patch is expected to make of the key. Without a readable `before` (Plumaa), only what
 * the patch sets is known. `raw` is the body that would be sent, redacted.
 */
export function predictAfter(connection: Connection, provider: string, id: string, before: ApiKey | null, patch: ApiKeyPatch, raw: unknown): ApiKey {
  const base: NormalizedKey = before ?? { id, name: null, enabled: null, roles: null, tags: null, expiresAt: null, updatedAt: null, raw: null };
  let tags = base.tags;
  if (patch.setTags || patch.removeTags) {
    const map = new Map((tags ?? []).map((t) => [t.key, t.value]));
    for (const t of patch.setTags ?? []) map.set(t.key, t.value ?? null);
    for (const k of patch.removeTags ?? []) map.delete(k);
    tags = [...map].map(([key, value]) => ({ key, value }));
  }
  return {
    ...base,
    provider,
    kind: connection.kind,
    name: patch.name ?? base.name,
    enabled: patch.enabled ?? base.enabled,
    roles: patch.roles ?? base.roles,
    tags,
    expiresAt: patch.expiresAt ?? base.expiresAt,
    updatedAt: null,
    raw,
  };
}

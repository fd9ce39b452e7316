/**
 * `updateApiKeys`: many updates in one call. One result per input, in input order; a failing item
 * carries its error and never fails the others; two items for one (provider, id) are applied in
 * input order; at most `maxConcurrency` calls are in flight per provider connection.
 */
import pLimit, { type LimitFunction } from 'p-limit';
import type { ApiKeyPatch } from '../../providers/types.ts';
import { runOperation } from '../core/run-operation.ts';
import { GatewayError } from '../core/errors.ts';
import { updateApiKey } from './update-api-key.ts';
import type { ApiKey, OperationContext } from '../core/context.ts';

export const MAX_BULK_UPDATES = 100;

export interface ApiKeyUpdateInput {
  provider: string;
  id: string;
  patch: ApiKeyPatch | (() => ApiKeyPatch);
}

export interface ApiKeyError {
  code: string;
  message: string;
  upstream: unknown;
  /** Attempts made, when the vendor did not answer the last one (else in `upstream.attempts`). */
  attempts: number | null;
  /** keygate's own retry hint (an open circuit breaker), in seconds. */
  retryAfter: number | null;
}

export interface ApiKeyUpdateResult {
  provider: string;
  id: string;
  apiKey: ApiKey | null;
  error: ApiKeyError | null;
}

export async function updateApiKeys(ctx: OperationContext, updates: ApiKeyUpdateInput[]): Promise<ApiKeyUpdateResult[]> {
  if (updates.length > MAX_BULK_UPDATES)
    // One audit entry for the refused call; within the cap each item is audited as an update.
    await runOperation(ctx, { operation: 'updateApiKeys', provider: null, keyId: null, audited: true }, async () => {
      throw new GatewayError(`updateApiKeys: at most ${MAX_BULK_UPDATES} updates per call (got ${updates.length}); nothing was sent`, {
        code: 'BAD_USER_INPUT',
        details: { field: 'updates' },
      });
    });

  return runUpdateItems(ctx, updates);
}

/** Per-item hooks of a durable job (src/jobs/runner.ts). */
export interface ItemHooks<U extends ApiKeyUpdateInput> {
  /** Just before the item runs (its turn came): a result to record instead of running it, or undefined to run it. */
  before?(u: U): Promise<ApiKeyUpdateResult | undefined>;
  /** Once the item's result is known. */
  after?(u: U, result: ApiKeyUpdateResult): Promise<void>;
}

/**
 * Runs items as `updateApiKeys` does: items for one key one after another in input order, at most
 * `maxConcurrency` in flight per provider connection. One result per item, in input order.
 */
export function runUpdateItems<U extends ApiKeyUpdateInput>(ctx: OperationContext, updates: U[], hooks: ItemHooks<U> = {}): Promise<ApiKeyUpdateResult[]> {
  const limits = new Map<string, LimitFunction>();
  const limitFor = (provider: string): LimitFunction => {
    let limit = limits.get(provider);
    if (!limit) {
      limit = pLimit(ctx.connections.get(provider)?.maxConcurrency ?? 1);
      limits.set(provider, limit);
    }
    return limit;
  };
  // Items for one key run one after another, in input order.
  const chains = new Map<string, Promise<unknown>>();
  const runOne = async (u: U): Promise<ApiKeyUpdateResult> => {
    const result = (await hooks.before?.(u)) ?? (await updateOne(ctx, u));
    await hooks.after?.(u, result);
    return result;
  };

  return Promise.all(
    updates.map((u) => {
      const key = JSON.stringify([u.provider, u.id]);
      const run = (chains.get(key) ?? Promise.resolve()).then(() => limitFor(u.provider)(() => runOne(u)));
      chains.set(key, run);
      return run;
    }),
  );
}

export function errorResult(provider: string, id: string, err: GatewayError): ApiKeyUpdateResult {
  return {
    provider,
    id,
    apiKey: null,
    error: {
      code: err.code,
      message: err.message,
      upstream: err.extensions.upstream ?? null,
      attempts: typeof err.extensions.attempts === 'number' ? err.extensions.attempts : null,
      retryAfter: typeof err.extensions.retryAfter === 'number' ? err.extensions.retryAfter : null,
    },
  };
}

async function updateOne(ctx: OperationContext, u: ApiKeyUpdateInput): Promise<ApiKeyUpdateResult> {
  try {
    const apiKey = await updateApiKey(ctx, u.provider, u.id, u.patch);
    return { provider: u.provider, id: u.id, apiKey, error: null };
  } catch (err) {
    if (err instanceof GatewayError) return errorResult(u.provider, u.id, err);
    // A bug, not a vendor's answer: logged in full, masked for the client as yoga masks it.
    ctx.log.error({ err, provider: u.provider }, 'unexpected error in updateApiKeys item');
    return {
      provider: u.provider,
      id: u.id,
      apiKey: null,
      error: { code: 'INTERNAL_SERVER_ERROR', message: 'Unexpected error.', upstream: null, attempts: null, retryAfter: null },
    };
  }
}

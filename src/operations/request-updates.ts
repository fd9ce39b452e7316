/**
 * `limits.maxUpdatesPerRequest`: the vendor writes one request may ask for, counted over every
 * mutation field of the operation as written (aliases, fragments, @skip/@include counted too):
 * each `updateApiKey` 1, each `updateApiKeys` its items (literal or from variables). The first
 * write field to run counts for the whole operation; over the cap, every write field refuses
 * (BAD_USER_INPUT, audited) before anything is sent. Batching is off, so a request is one operation.
 */
import { Kind, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';
import { getArgumentValues } from 'graphql/execution/values.js';
import { runOperation, type KeyOperation } from '../core/run-operation.ts';
import { GatewayError } from '../core/errors.ts';
import type { OperationContext } from '../core/context.ts';

/** What each write field counts for, given its coerced arguments. */
const WRITES: Record<string, (args: Record<string, unknown>) => number> = {
  updateApiKey: () => 1,
  updateApiKeys: (args) => (Array.isArray(args.updates) ? args.updates.length : 0),
};

/** The vendor writes the operation of `info` asks for, over all its root fields. */
export function countUpdates(info: Pick<GraphQLResolveInfo, 'operation' | 'fragments' | 'parentType' | 'variableValues'>): number {
  const fields = info.parentType.getFields();
  const visited = new Set<string>();
  const count = (set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>): number => {
    let n = 0;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        const weigh = WRITES[s.name.value];
        const def = fields[s.name.value];
        if (weigh && def) n += weigh(getArgumentValues(def, s, info.variableValues));
      } else if (s.kind === Kind.INLINE_FRAGMENT) n += count(s.selectionSet, fragments);
      else if (!visited.has(s.name.value) && fragments[s.name.value]) {
        visited.add(s.name.value);
        n += count(fragments[s.name.value].selectionSet, fragments);
      }
    }
    return n;
  };
  return count(info.operation.selectionSet, info.fragments);
}

const counted = new WeakMap<object, number>();

/**
 * Undefined within the cap; over it, a promise that records the refusal (one audit entry per write
 * field) and rejects with BAD_USER_INPUT naming the limit and the count.
 */
export function refuseOverRequestCap(
  ctx: OperationContext & { maxUpdatesPerRequest: number },
  info: GraphQLResolveInfo,
  operation: KeyOperation,
): Promise<never> | undefined {
  let n = counted.get(ctx);
  if (n === undefined) {
    n = countUpdates(info);
    counted.set(ctx, n);
  }
  const max = ctx.maxUpdatesPerRequest;
  if (n <= max) return undefined;
  return runOperation(ctx, { operation, provider: null, keyId: null, audited: true }, async () => {
    throw new GatewayError(
      `limits.maxUpdatesPerRequest: this request asks for ${n} vendor writes (each updateApiKey counts 1, each updateApiKeys item 1, over all aliases); at most ${max} per request; nothing was sent`,
      { code: 'BAD_USER_INPUT', details: { limit: 'maxUpdatesPerRequest', max, count: n } },
    );
  });
}

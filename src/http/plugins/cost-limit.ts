/**
 * `limits.maxCost`, counting list arguments: graphql-armor's cost (objects 2, scalars 1, × 1.5 per
 * level, introspection free) with each field's cost multiplied by the longest list argument it is
 * given (literal or from variables, which a validation rule cannot see: yoga caches validation per
 * document) and by a literal `first`/`last`. So `updateApiKeys` with 100 items costs 100 times one.
 * Checked before execution; refused like armor's other limits (GRAPHQL_VALIDATION_FAILED, 400).
 */
import { getOperationAST, Kind, type DocumentNode, type FieldNode, type FragmentDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import { createGraphQLError, type Plugin } from 'graphql-yoga';

const OBJECT_COST = 2;
const SCALAR_COST = 1;
const DEPTH_FACTOR = 1.5;

type Variables = Record<string, unknown> | null | undefined;

/**
 * How many times a field's result is asked for: its longest list argument (literal or variable),
 * or a literal `first`/`last` (as graphql-armor counts it), at least 1.
 */
function multiplier(field: FieldNode, variables: Variables): number {
  // A job's items are stored and paced, and its answer is one job whatever their number.
  if (field.name.value === 'startApiKeyUpdateJob') return 1;
  let m = 1;
  for (const arg of field.arguments ?? []) {
    const value: ValueNode = arg.value;
    let n = 0;
    if (value.kind === Kind.LIST) n = value.values.length;
    else if (value.kind === Kind.VARIABLE) {
      const v = variables?.[value.name.value];
      if (Array.isArray(v)) n = v.length;
    } else if (value.kind === Kind.INT && (arg.name.value === 'first' || arg.name.value === 'last')) n = Number.parseInt(value.value, 10);
    if (Number.isFinite(n) && n > m) m = n;
  }
  return m;
}

/** The cost of operation `operationName` in `document` with these variables (0 if there is no such operation). */
export function operationCost(document: DocumentNode, operationName: string | null | undefined, variables: Variables): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fragmentCost = new Map<string, number>();
  const setCost = (set: SelectionSetNode): number => {
    let cost = OBJECT_COST;
    for (const s of set.selections) {
      if (s.kind === Kind.FIELD) {
        if (s.name.value === '__schema') continue;
        cost += DEPTH_FACTOR * (s.selectionSet ? setCost(s.selectionSet) : SCALAR_COST) * multiplier(s, variables);
      } else if (s.kind === Kind.INLINE_FRAGMENT) cost += DEPTH_FACTOR * setCost(s.selectionSet);
      else {
        const name = s.name.value;
        let f = fragmentCost.get(name);
        if (f === undefined) {
          // A cycle is a validation error already; 0 while one is being measured keeps this finite.
          fragmentCost.set(name, 0);
          const def = fragments.get(name);
          f = def ? setCost(def.selectionSet) : 0;
          fragmentCost.set(name, f);
        }
        cost += DEPTH_FACTOR * (SCALAR_COST + DEPTH_FACTOR * f);
      }
    }
    return cost;
  };
  // The operation itself costs its fields only (no object cost, no factor), as in graphql-armor.
  return (setCost(operation.selectionSet) - OBJECT_COST) / DEPTH_FACTOR;
}

export function useCostLimit(maxCost: number): Plugin {
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const cost = operationCost(args.document, args.operationName, args.variableValues as Variables);
      if (cost <= maxCost) return;
      setResultAndStopExecution({
        errors: [
          createGraphQLError(`Syntax Error: Query Cost limit of ${maxCost} exceeded, found ${cost}.`, {
            extensions: { code: 'GRAPHQL_VALIDATION_FAILED', http: { status: 400, spec: true } },
          }),
        ],
      });
    },
  };
}

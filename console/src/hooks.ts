import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, request } from './api.ts';
import type { TypedDocumentString } from './gql/graphql.ts';

export interface QueryState<R> {
  data?: R;
  error?: ApiError;
  loading: boolean;
  reload(): void;
}

/** Runs `document` when its variables change (and every `pollMs` while mounted, if given). */
export function useQuery<R, V>(document: TypedDocumentString<R, V>, variables: V, options: { skip?: boolean; pollMs?: number } = {}): QueryState<R> {
  const key = JSON.stringify(variables);
  const [state, setState] = useState<{ data?: R; error?: ApiError; loading: boolean; key?: string }>({ loading: !options.skip });
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  const vars = useRef(variables);
  vars.current = variables;
  // biome-ignore lint/correctness/useExhaustiveDependencies: tick is not read inside; it is the trigger that makes reload() run the query again.
  useEffect(() => {
    if (options.skip) return;
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = (first: boolean) => {
      if (first) setState((s) => ({ ...s, loading: true, ...(s.key !== key && { data: undefined, error: undefined }) }));
      request(document, vars.current)
        .then(
          (data) => live && setState({ data, loading: false, key }),
          (err: unknown) => live && setState((s) => ({ data: first ? undefined : s.data, error: toApiError(err), loading: false, key })),
        )
        .finally(() => {
          if (live && options.pollMs) timer = setTimeout(() => run(false), options.pollMs);
        });
    };
    run(true);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [document, key, tick, options.skip, options.pollMs]);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function toApiError(err: unknown): ApiError {
  return err instanceof ApiError ? err : new ApiError('ERROR', err instanceof Error ? err.message : String(err), undefined, 0);
}

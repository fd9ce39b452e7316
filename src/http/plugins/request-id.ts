/**
 * Request ids, end to end: a well-formed `x-request-id` is kept, anything else is replaced by a
 * fresh one; it goes back as a response header and as `extensions.requestId` on every error, is
 * forwarded to vendors as `X-Request-Id`, and stands in every log line and audit entry.
 */
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

const WELL_FORMED = /^[A-Za-z0-9._:-]{1,128}$/;
const ids = new WeakMap<Request, string>();

export function requestIdOf(request: Request): string {
  let id = ids.get(request);
  if (!id) {
    const given = request.headers.get('x-request-id');
    id = given && WELL_FORMED.test(given) ? given : randomUUID();
    ids.set(request, id);
  }
  return id;
}

export function useRequestId(): Plugin {
  return {
    onResultProcess({ request, result, setResult }) {
      const requestId = requestIdOf(request);
      const tag = (r: { errors?: readonly GraphQLError[] }) =>
        r.errors
          ? {
              ...r,
              errors: r.errors.map(
                (e) =>
                  new GraphQLError(e.message, {
                    nodes: e.nodes,
                    source: e.source,
                    positions: e.positions,
                    path: e.path,
                    originalError: e.originalError,
                    extensions: { ...e.extensions, requestId },
                  }),
              ),
            }
          : r;
      if (Array.isArray(result)) setResult(result.map(tag) as typeof result);
      else if (result && typeof result === 'object' && 'errors' in result) setResult(tag(result as never) as typeof result);
    },
    onResponse({ request, response }) {
      response.headers.set('x-request-id', requestIdOf(request));
    },
  };
}

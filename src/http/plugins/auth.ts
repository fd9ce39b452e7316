/**
 * Caller authentication at the edge, before the request body is parsed: credentials in the query
 * string are refused; without `auth` only loopback `Host`s are answered; with it, a missing or
 * invalid token is UNAUTHENTICATED (HTTP 401 with `WWW-Authenticate`). The caller found here is
 * the context's `caller` (src/http/gateway.ts); scopes are checked per operation (src/auth/).
 */
import type { Plugin } from 'graphql-yoga';
import { hasCredentialInQuery, type Authenticator } from '../../auth/callers.ts';
import type { Caller } from '../../auth/scopes.ts';
import { callerUnauthenticatedError, GatewayError, hostRefusedError } from '../../core/errors.ts';
import type { Logger } from '../../observability/log.ts';
import { isLoopbackHostHeader } from '../loopback.ts';
import { requestIdOf } from './request-id.ts';

const callers = new WeakMap<Request, Caller>();

/** The caller authenticated for this request (undefined before `onRequestParse`). */
export function callerOf(request: Request): Caller | undefined {
  return callers.get(request);
}

export interface AuthPluginOptions {
  /** The authenticator of the config in force (a reload may swap it). */
  authenticator(): Authenticator;
  log: Logger;
}

export function useAuth(options: AuthPluginOptions): Plugin {
  const refuse = (request: Request, err: GatewayError, reason: string): never => {
    options.log.warn({ requestId: requestIdOf(request), code: err.code, reason }, 'request refused at the edge');
    throw err;
  };
  return {
    onRequestParse({ request, url }) {
      if (hasCredentialInQuery(url))
        refuse(
          request,
          callerUnauthenticatedError(
            'credentials in the query string are refused (URLs end up in logs and histories); send Authorization: Bearer <token>',
            'Bearer realm="keygate", error="invalid_request"',
          ),
          'credential in query string',
        );
      const authenticator = options.authenticator();
      if (!authenticator.required && !isLoopbackHostHeader(request.headers.get('host'))) refuse(request, hostRefusedError(), 'non-loopback Host without auth');
      const refused = (err: unknown): never => {
        if (err instanceof GatewayError) refuse(request, err, 'not authenticated');
        throw err;
      };
      let caller: ReturnType<Authenticator['authenticate']>;
      try {
        caller = authenticator.authenticate(request);
      } catch (err) {
        return refused(err);
      }
      // Static tokens answer at once; only a JWT makes this hook wait.
      if (caller instanceof Promise) return caller.then((c) => void callers.set(request, c), refused);
      callers.set(request, caller);
    },
  };
}

/**
 * The console's only GraphQL client: a POST of a typed document (JSON, same origin) with the
 * bearer token, if any. The token lives in memory and sessionStorage (this tab only), never in
 * localStorage or a URL.
 */
import type { TypedDocumentString } from './gql/graphql.ts';

const TOKEN_KEY = 'keygate.token';
let token: string | undefined = sessionStorage.getItem(TOKEN_KEY) ?? undefined;

export function hasToken(): boolean {
  return token !== undefined;
}

export function setToken(value: string | undefined): void {
  token = value;
  if (value === undefined) sessionStorage.removeItem(TOKEN_KEY);
  else sessionStorage.setItem(TOKEN_KEY, value);
}

/** A GraphQL error as keygate reports it: its code, message and the vendor's `upstream` details. */
export class ApiError extends Error {
  readonly code: string;
  readonly upstream: unknown;
  readonly status: number;
  constructor(code: string, message: string, upstream: unknown, status: number) {
    super(message);
    this.code = code;
    this.upstream = upstream;
    this.status = status;
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { code?: string; upstream?: unknown } }[];
}

export async function request<R, V>(document: TypedDocumentString<R, V>, variables?: V): Promise<R> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: document.toString(), variables }),
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch {
    throw new ApiError('NETWORK_ERROR', 'keygate did not answer (is it running?)', undefined, 0);
  }
  let body: GraphQLResponse<R>;
  try {
    body = (await res.json()) as GraphQLResponse<R>;
  } catch {
    throw new ApiError('BAD_RESPONSE', `keygate answered HTTP ${res.status} without a GraphQL body`, undefined, res.status);
  }
  const first = body.errors?.[0];
  if (first) throw new ApiError(first.extensions?.code ?? 'ERROR', first.message, first.extensions?.upstream, res.status);
  if (!body.data) throw new ApiError('BAD_RESPONSE', `keygate answered HTTP ${res.status} without data`, undefined, res.status);
  return body.data;
}

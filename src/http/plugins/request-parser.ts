/**
 * keygate's own request parsers, in place of yoga's: media types are matched case-insensitively
 * with parameters and whitespace allowed (`APPLICATION/JSON ; charset=UTF-8`), a charset other than
 * UTF-8 is 415, and every JSON a request carries — a JSON body, or `variables`/`extensions` in a
 * query string or form body — is refused (400 BAD_USER_INPUT) when one object names a key twice.
 * Multipart stays unparsed (415). Registered before src/http/plugins/body-limit.ts, which wraps it.
 */
import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';
import { findDuplicateKey } from '../json-duplicates.ts';

/** The media types answered, lower-case. */
const JSON_TYPES = new Set(['application/json', 'application/graphql+json']);
const GRAPHQL_TYPE = 'application/graphql';
const FORM_TYPE = 'application/x-www-form-urlencoded';

/** `type/subtype` in lower case and the charset parameter (lower case, unquoted), if any. */
export function parseMediaType(header: string | null): { essence: string; charset?: string } | undefined {
  if (!header) return undefined;
  // A list is not valid here, but some clients send one: the first entry counts (as in yoga).
  const [essence, ...params] = header.split(',')[0].split(';');
  let charset: string | undefined;
  for (const param of params) {
    const eq = param.indexOf('=');
    if (eq > 0 && param.slice(0, eq).trim().toLowerCase() === 'charset')
      charset = param
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
  }
  return { essence: essence.trim().toLowerCase(), charset };
}

/** A client-supplied name in a message, cut to a readable length. */
const clip = (text: string) => (text.length > 80 ? `${text.slice(0, 80)}…` : text);

const badRequest = (message: string, spec = false) =>
  createGraphQLError(message, { extensions: { http: { status: 400, ...(spec && { spec }) }, code: spec ? 'BAD_REQUEST' : 'BAD_USER_INPUT' } });

/** JSON.parse, refusing a key named twice in one object (`where` names the part in errors). */
export function parseJsonStrictly(text: string, where: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // yoga's own wording and code for a body that is not JSON.
    throw badRequest(where === 'request body' ? 'POST body sent invalid JSON.' : `${where}: invalid JSON.`, true);
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate)
    throw badRequest(
      `${where}: key "${clip(duplicate.key)}" appears twice in ${duplicate.at ? `the object at ${clip(duplicate.at)}` : 'the top-level object'}; each key may appear once (which value would apply is undefined)`,
    );
  return value;
}

function fromSearchParams(params: URLSearchParams): GraphQLParams {
  const variables = params.get('variables');
  const extensions = params.get('extensions');
  return {
    operationName: params.get('operationName') || undefined,
    query: params.get('query') || undefined,
    variables: variables ? (parseJsonStrictly(variables, 'variables') as GraphQLParams['variables']) : undefined,
    extensions: extensions ? (parseJsonStrictly(extensions, 'extensions') as GraphQLParams['extensions']) : undefined,
  };
}

async function parseJsonBody(request: Request): Promise<GraphQLParams> {
  const body = parseJsonStrictly(await request.text(), 'request body');
  if (body === null || typeof body !== 'object')
    throw badRequest(`POST body is expected to be object but received ${body === null ? 'null' : typeof body}`, true);
  // An array is a batch: yoga refuses it after parsing (batching is off).
  return body as GraphQLParams;
}

const parseGet = (request: Request): GraphQLParams => fromSearchParams(new URL(request.url).searchParams);
const parseForm = async (request: Request): Promise<GraphQLParams> => fromSearchParams(new URLSearchParams(await request.text()));
const parseGraphQL = async (request: Request): Promise<GraphQLParams> => ({ query: await request.text() });
const unsupportedCharset = (charset: string) => () => {
  throw createGraphQLError(`Unsupported charset "${charset}": request bodies are UTF-8 (charset=utf-8 or none)`, {
    extensions: { http: { status: 415 }, code: 'BAD_REQUEST' },
  });
};

export function useRequestParsers(): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method === 'GET') return setRequestParser(parseGet);
      if (request.method !== 'POST') return;
      const type = parseMediaType(request.headers.get('content-type'));
      if (!type) return;
      const parse = JSON_TYPES.has(type.essence)
        ? parseJsonBody
        : type.essence === FORM_TYPE
          ? parseForm
          : type.essence === GRAPHQL_TYPE
            ? parseGraphQL
            : undefined;
      if (!parse) return;
      if (type.charset !== undefined && type.charset !== 'utf-8' && type.charset !== 'utf8') return setRequestParser(unsupportedCharset(type.charset));
      setRequestParser(parse);
    },
  };
}

/**
 * The request body limit (`server.maxBodyBytes`), answered 413 like yoga's own `maxRequestBodySize`
 * but without its cost on every request: yoga pipes each body through a size-counting stream;
 * here a body that declares a valid Content-Length within the limit is read as it is, since
 * Node's HTTP parser never delivers more bytes than the Content-Length says. Only a body without
 * one (chunked) is counted while it streams. A malformed or repeated Content-Length never gets
 * here: Node's parser answers it with 400 first. Yoga's own limit is turned off (src/http/gateway.ts).
 */
import { createGraphQLError, type Plugin } from 'graphql-yoga';

const tooLarge = () => createGraphQLError('Request body too large', { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });
/** One non-negative integer; anything else is not trusted (its body is counted instead). */
const CONTENT_LENGTH = /^\d+$/;

export function useBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null && CONTENT_LENGTH.test(declared)) {
        if (Number(declared) > limit) throw tooLarge();
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => parse(counted(req, limit, fetchAPI)));
    },
  };
}

/** `request` with a body that errors with 413 once more than `limit` bytes have streamed. */
function counted(request: Request, limit: number, fetchAPI: { Request: typeof Request; TransformStream: typeof TransformStream }): Request {
  // A native body needs the native TransformStream (yoga's workaround for whatwg-node's ponyfill).
  const Transform = request.body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
  let bytes = 0;
  const body = request.body!.pipeThrough(
    new Transform<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        bytes += chunk.byteLength;
        if (bytes > limit) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new fetchAPI.Request(request.url, { method: request.method, headers: request.headers, signal: request.signal, body, duplex: 'half' } as RequestInit);
}

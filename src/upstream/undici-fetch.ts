/**
 * A `fetch` for ky over an undici keep-alive pool: ky keeps its API (hooks, timeout, prefix) while
 * each call costs one `undici.request` instead of Node's heavier built-in fetch.
 *
 * Redirects are never followed (undici.request does not), so a redirect can never carry our
 * credentials to another host. Bodies larger than `maxBodyBytes` are refused while streaming,
 * without buffering them whole.
 */
import { Agent, request as undiciRequest } from 'undici';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  constructor(limit: number) {
    super(`response body exceeds ${limit} bytes`);
  }
}

export interface UndiciFetchOptions {
  maxBodyBytes: number;
  /** Sockets kept per origin. */
  connections?: number;
}

export interface UndiciFetch {
  fetch: (input: Request | URL | string, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/**
 * The fast path between ky and this fetch: ky builds a body-less Request and passes the JSON text
 * as the extra option `upstreamBody`; the answer's text is handed back beside the Response
 * (`responseText`), so neither body goes through a web stream.
 */
export interface FastInit extends RequestInit {
  upstreamBody?: string;
}

const texts = new WeakMap<Response, string>();

/** The body text this fetch read for `response` (undefined for a Response it did not make). */
export function responseText(response: Response): string | undefined {
  return texts.get(response);
}

export function createUndiciFetch(options: UndiciFetchOptions): UndiciFetch {
  const agent = new Agent({ connections: options.connections ?? 32, keepAliveTimeout: 10_000, pipelining: 1 });

  const fetch = async (input: Request | URL | string, init?: FastInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const body = init?.upstreamBody ?? (request.body ? Buffer.from(await request.arrayBuffer()) : undefined);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    const res = await undiciRequest(request.url, {
      method: request.method as 'GET',
      headers,
      body,
      dispatcher: agent,
      signal: request.signal,
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxBodyBytes) {
        res.body.destroy();
        throw new BodyTooLargeError(options.maxBodyBytes);
      }
      chunks.push(chunk as Buffer);
    }
    const responseHeaders = new Headers();
    for (const [key, value] of Object.entries(res.headers)) {
      if (Array.isArray(value)) for (const v of value) responseHeaders.append(key, v);
      else if (value !== undefined) responseHeaders.set(key, value);
    }
    const response = new Response(null, { status: res.statusCode, headers: responseHeaders });
    texts.set(response, Buffer.concat(chunks).toString('utf8'));
    return response;
  };

  return { fetch, close: () => agent.close() };
}

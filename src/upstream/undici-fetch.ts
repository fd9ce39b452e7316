/**
 * A `fetch` for ky over an undici keep-alive pool: ky keeps its API (hooks, prefix) while each
 * call costs one `undici.request` instead of Node's heavier built-in fetch.
 *
 * Each exchange, from connecting to the last byte of the answer, is bounded by `timeoutMs` (one
 * timer here instead of ky's timer, promise and joined signal); it fails with an error for which
 * `isTimeout` is true. The caller's signal (the deadline) aborts it too.
 *
 * Redirects are never followed (undici.request does not), so a redirect can never carry our
 * credentials to another host. Bodies larger than `maxBodyBytes` are refused by undici itself
 * (`maxResponseSize`) as soon as that many bytes have arrived, whatever Content-Length says.
 */
import { Agent, request as undiciRequest } from 'undici';

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
  /** The HTTP status of the answer whose body was too large. */
  readonly status: number;
  constructor(limit: number, status: number) {
    super(`response body exceeds ${limit} bytes`);
    this.status = status;
  }
}

export interface UndiciFetchOptions {
  maxBodyBytes: number;
  /** Sockets kept per origin. */
  connections?: number;
  /** One exchange, from connecting to the answer's last byte, at most this long. */
  timeoutMs: number;
}

/** The reason an exchange is aborted after `timeoutMs`. */
export class ExchangeTimeoutError extends Error {
  override readonly name = 'ExchangeTimeoutError';
}

/** True when an exchange failed because it took longer than `timeoutMs`. */
export function isTimeout(err: unknown): boolean {
  return err instanceof ExchangeTimeoutError || (err as NodeJS.ErrnoException | undefined)?.code === 'UND_ERR_CONNECT_TIMEOUT';
}

export interface UndiciFetch {
  fetch: (input: Request | URL | string, init?: RequestInit) => Promise<Response>;
  /** Closes the pool once its exchanges are done; `force` aborts those still running. */
  close(force?: boolean): Promise<void>;
}

/**
 * The fast path between ky and this fetch: ky builds a body-less, signal-less Request and passes
 * the JSON text and the caller's signal as the extra options `upstreamBody` and `upstreamSignal`
 * (so ky joins no signals); the answer's text is handed back beside the Response
 * (`responseText`), so neither body goes through a web stream. ky's own `json`/`signal`/
 * `response.text()` path measured about 1.5× this client's CPU per call (see CONTRIBUTING.md).
 */
export interface FastInit extends RequestInit {
  upstreamBody?: string;
  upstreamSignal?: AbortSignal;
}

const texts = new WeakMap<Response, string>();

/** The body text this fetch read for `response` (undefined for a Response it did not make). */
export function responseText(response: Response): string | undefined {
  return texts.get(response);
}

/**
 * The request body, read with a reader that is released at the end: ky cancels the body once the
 * call is over, and cancelling a stream still locked (as `arrayBuffer()` leaves it) fails with an
 * error whose stack trace costs more than the read.
 */
async function readBody(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  return chunks.length === 1 ? Buffer.from(chunks[0].buffer, chunks[0].byteOffset, chunks[0].byteLength) : Buffer.concat(chunks);
}

export function createUndiciFetch(options: UndiciFetchOptions): UndiciFetch {
  const agent = new Agent({
    connections: options.connections ?? 32,
    keepAliveTimeout: 10_000,
    pipelining: 1,
    connect: { timeout: options.timeoutMs },
    maxResponseSize: options.maxBodyBytes,
  });

  const fetch = async (input: Request | URL | string, init?: FastInit): Promise<Response> => {
    const request = input instanceof Request ? input : new Request(input, init);
    const body = init?.upstreamBody ?? (request.body ? await readBody(request.body) : undefined);
    const headers: Record<string, string> = {};
    request.headers.forEach((value, key) => {
      headers[key] = value;
    });
    const outer = init?.upstreamSignal ?? request.signal;
    if (outer.aborted) throw outer.reason;
    const exchange = new AbortController();
    const onAbort = () => exchange.abort(outer.reason);
    outer.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => exchange.abort(new ExchangeTimeoutError(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    try {
      const res = await undiciRequest(request.url, { method: request.method as 'GET', headers, body, dispatcher: agent, signal: exchange.signal });
      // undici counts the body against `maxResponseSize` as it arrives, so it can be read whole
      // without an async iterator per chunk.
      const text = await res.body.text().catch((err: NodeJS.ErrnoException) => {
        throw err.code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE' ? new BodyTooLargeError(options.maxBodyBytes, res.statusCode) : err;
      });
      const headerPairs: [string, string][] = [];
      for (const key in res.headers) {
        const value = res.headers[key];
        if (Array.isArray(value)) for (const v of value) headerPairs.push([key, v]);
        else if (value !== undefined) headerPairs.push([key, value]);
      }
      const response = new Response(null, { status: res.statusCode, headers: headerPairs });
      texts.set(response, text);
      return response;
    } finally {
      clearTimeout(timer);
      outer.removeEventListener('abort', onAbort);
    }
  };

  return { fetch, close: (force) => (force ? agent.destroy() : agent.close()) };
}

/**
 * The shared plumbing of the vendor simulators: a loopback HTTP server that records every request
 * it receives and can be scripted to misbehave (faults). Each `providers/<kind>/simulator.ts`
 * supplies only the vendor's own routes, auth check, validation and state.
 *
 * ## Fault API
 * A fault is a plain JSON-able object; `inject(fault)` queues it and the next matching requests
 * (same `method`, once `skip` of them went through untouched) misbehave `times` times, then the
 * vendor answers normally again. The `faults` helpers build the usual ones:
 *
 *   sim.inject(faults.delay(800))                    answer late
 *   sim.inject(faults.hang())                        never answer
 *   sim.inject(faults.reset())                       drop the connection without an answer
 *   sim.inject(faults.html502())                     an nginx-style HTML 502 page
 *   sim.inject(faults.truncatedJson())               the vendor's own answer, its JSON cut in half
 *   sim.inject(faults.oversize(2 * 1024 * 1024))     a 200 body of that many bytes, streamed
 *   sim.inject(faults.rateLimited(2))                429 with `Retry-After: 2` (or a Date: an HTTP date)
 *   sim.inject(faults.unavailable({ times: 2 }))     503 twice, then the normal answer
 *   sim.inject(faults.redirect('http://elsewhere/')) a 307 to somewhere else
 *   atlas.expireNonces()                             Atlas: the next Digest answer is 401 stale=true
 *
 * Every helper takes `method`, `skip` and `times` too: `faults.html502({ method: 'PUT', times: 3 })`.
 *
 * The same API over HTTP, for the sandbox (`npm start` prints each simulator's fault URL). The
 * reserved `/__sim/` paths are never recorded and never reach the vendor's routes:
 *
 *   POST   {origin}/__sim/faults     a Fault or an array of them (JSON)          -> 204
 *   DELETE {origin}/__sim/faults     drops the queued faults                     -> 204
 *   GET    {origin}/__sim/requests   [{method, path, status}] received so far    -> 200
 *   POST   {origin}/__sim/{control}  a simulator's own control (Atlas: expire-nonces) -> 204
 *
 * ## Vendor rate limits
 * A simulator given `rateLimit: { limit, windowSeconds }` answers like its vendor at a fixed window of
 * `limit` requests (the window starts with its first request): every answer carries the vendor's
 * own rate-limit headers (its SimRateLimitDialect), and a request beyond the limit gets the vendor's
 * own 429, with `Retry-After` only where the vendor documents one. Faults bypass it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface SimRequest {
  method: string;
  /** The raw path as received (still percent-encoded), without the query string. */
  path: string;
  /** Path segments, each percent-decoded. */
  segments: string[];
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  /** Parsed JSON body; undefined when the body was empty; `INVALID_JSON` when it did not parse. */
  body: unknown;
  rawBody: string;
}

export const INVALID_JSON = Symbol('invalid JSON');

export interface SimResponse {
  status: number;
  json?: unknown;
  text?: string;
  headers?: Record<string, string>;
}

/** A scripted misbehaviour, consumed by the next matching requests (see the Fault API above). */
export interface Fault {
  /** Only requests with this method (default: any). */
  method?: string;
  /** Let this many matching requests through untouched first (default 0). */
  skip?: number;
  /** How many requests it applies to (default 1). */
  times?: number;
  /** Wait before answering (or before the other effects). */
  delayMs?: number;
  /** Never answer; the socket stays open until the client gives up. */
  hang?: boolean;
  /** Destroy the connection without an answer. */
  reset?: boolean;
  /** Answer with this instead of the vendor's normal answer. */
  response?: SimResponse;
  /** Send the answer (the vendor's own, the request applied; or `response`) with its body cut in half. */
  truncate?: boolean;
  /** Instead of an answer, stream a 200 JSON body of this many bytes (stops when the client hangs up). */
  oversizeBytes?: number;
  /** With `oversizeBytes`: declare the size in Content-Length (otherwise the body is chunked). */
  oversizeDeclared?: boolean;
  /** With `oversizeBytes`: the status sent (default 200). */
  oversizeStatus?: number;
}

const FAULT_FIELDS: Record<keyof Fault, string> = {
  method: 'string',
  skip: 'number',
  times: 'number',
  delayMs: 'number',
  hang: 'boolean',
  reset: 'boolean',
  response: 'object',
  truncate: 'boolean',
  oversizeBytes: 'number',
  oversizeDeclared: 'boolean',
  oversizeStatus: 'number',
};

type FaultOptions = Pick<Fault, 'method' | 'skip' | 'times'>;

/** Builders of the usual faults; each takes `method`, `skip` and `times` too. */
export const faults = {
  delay: (ms: number, o: FaultOptions = {}): Fault => ({ ...o, delayMs: ms }),
  hang: (o: FaultOptions = {}): Fault => ({ ...o, hang: true }),
  reset: (o: FaultOptions = {}): Fault => ({ ...o, reset: true }),
  html502: (o: FaultOptions = {}): Fault => ({ ...o, response: htmlPage(502, 'Bad Gateway') }),
  truncatedJson: (o: FaultOptions = {}): Fault => ({ ...o, truncate: true }),
  /** A streamed JSON body of `bytes` bytes (status 200 unless `status`); `declared` sends its length in Content-Length. */
  oversize: (bytes: number, o: FaultOptions & { declared?: boolean; status?: number } = {}): Fault => {
    const { declared, status, ...rest } = o;
    return { ...rest, oversizeBytes: bytes, ...(declared && { oversizeDeclared: true }), ...(status !== undefined && { oversizeStatus: status }) };
  },
  /** 429; `retryAfter` in seconds, or a Date (sent as an HTTP date). */
  rateLimited: (retryAfter?: number | Date, o: FaultOptions = {}): Fault => ({ ...o, response: { status: 429, headers: retryAfterHeader(retryAfter) } }),
  /** 503 (`times` of them, then the normal answer); `retryAfter` as for rateLimited. */
  unavailable: (o: FaultOptions & { retryAfter?: number | Date } = {}): Fault => {
    const { retryAfter, ...rest } = o;
    return { ...rest, response: { status: 503, headers: retryAfterHeader(retryAfter), text: 'Service Unavailable' } };
  },
  redirect: (location: string, o: FaultOptions & { status?: number } = {}): Fault => {
    const { status, ...rest } = o;
    return { ...rest, response: { status: status ?? 307, headers: { location } } };
  },
};

function retryAfterHeader(retryAfter: number | Date | undefined): Record<string, string> {
  if (retryAfter === undefined) return {};
  return { 'retry-after': retryAfter instanceof Date ? retryAfter.toUTCString() : String(retryAfter) };
}

/** Why a value posted to `/__sim/faults` is not a fault, or undefined when it is one. */
export function faultProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'a fault must be a JSON object';
  for (const [field, v] of Object.entries(value)) {
    const type = Object.hasOwn(FAULT_FIELDS, field) ? FAULT_FIELDS[field as keyof Fault] : undefined;
    if (!type) return `unknown fault field ${JSON.stringify(field)} (known: ${Object.keys(FAULT_FIELDS).join(', ')})`;
    if (typeof v !== type || v === null) return `${field} must be a ${type}`;
  }
  const response = (value as Fault).response;
  if (response && typeof response.status !== 'number') return 'response.status must be a number';
  return undefined;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** The status answered; undefined while pending, or when the connection was reset or hung. */
  status?: number;
  /** True when the client hung up before the whole answer was sent (e.g. an oversize body refused). */
  aborted?: boolean;
}

/** A vendor's rate limit in its simulator: `limit` requests per fixed window of `windowSeconds`. */
export interface SimRateLimitOptions {
  limit: number;
  windowSeconds: number;
  /** The clock, epoch ms (default `Date.now`); tests pass their own. */
  now?: () => number;
}

/** Where the window stands when an answer is sent. */
export interface SimRateLimitWindow {
  limit: number;
  windowSeconds: number;
  /** Requests left in this window. */
  remaining: number;
  /** Seconds until the window ends, rounded up. */
  resetSeconds: number;
  /** When the window ends: a Unix time in seconds, rounded up. */
  resetAt: number;
}

/** How one vendor reports its limit: the headers of every answer and its own 429 answer. */
export interface SimRateLimitDialect {
  /** Which requests count (default: all); those that do not get no rate-limit headers either. */
  counts?(req: SimRequest): boolean;
  headers(window: SimRateLimitWindow, req: SimRequest): Record<string, string>;
  tooMany(window: SimRateLimitWindow, req: SimRequest): SimResponse;
}

export interface SimulatorServerOptions {
  /** Named controls, reachable as `POST /__sim/{name}` (e.g. Atlas `expire-nonces`). */
  controls?: Record<string, () => void>;
  /** The vendor's rate limit (off when absent): its window, and how the vendor reports it. */
  rateLimit?: SimRateLimitOptions & { dialect: SimRateLimitDialect };
}

/** A fixed window of `limit` requests that starts with its first request. */
function createFixedWindow(o: SimRateLimitOptions) {
  if (!Number.isInteger(o.limit) || o.limit < 1) throw new Error(`rateLimit.limit must be a whole number of at least 1 (got ${o.limit})`);
  if (!(o.windowSeconds > 0)) throw new Error(`rateLimit.windowSeconds must be more than 0 (got ${o.windowSeconds})`);
  const now = o.now ?? (() => Date.now());
  const windowMs = o.windowSeconds * 1000;
  let start = Number.NEGATIVE_INFINITY;
  let used = 0;
  return {
    /** Counts one request: whether it is within the limit, and the window after it. */
    admit(): { admitted: boolean; window: SimRateLimitWindow } {
      const t = now();
      if (t >= start + windowMs) {
        start = t;
        used = 0;
      }
      const admitted = used < o.limit;
      if (admitted) used += 1;
      const end = start + windowMs;
      return {
        admitted,
        window: {
          limit: o.limit,
          windowSeconds: o.windowSeconds,
          remaining: o.limit - used,
          resetSeconds: Math.ceil((end - t) / 1000),
          resetAt: Math.ceil(end / 1000),
        },
      };
    },
    reset() {
      start = Number.NEGATIVE_INFINITY;
      used = 0;
    },
  };
}

export type SimHandler = (req: SimRequest) => SimResponse | Promise<SimResponse>;

export interface SimulatorServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** The most requests this simulator was handling at once since the last reset. */
  maxInFlight(): number;
  /** Requests that changed state: anything but GET, answered 2xx (an Atlas Digest challenge is not one). */
  writes(): RecordedRequest[];
  /** Connections open now, and the most open at once since the last reset (keep-alive pools are bounded). */
  openSockets(): number;
  maxSockets(): number;
  inject(fault: Fault): void;
  clearFaults(): void;
  reset(): void;
  close(): Promise<void>;
}

export async function createSimulatorServer(handler: SimHandler, port = 0, options: SimulatorServerOptions = {}): Promise<SimulatorServer> {
  const requests: RecordedRequest[] = [];
  let queued: Fault[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;
  let maxSockets = 0;
  const limit = options.rateLimit;
  const counter = limit && createFixedWindow(limit);

  /** The vendor's answer, or its 429 past the rate limit; either with its rate-limit headers. */
  const answerOf = async (req: SimRequest): Promise<SimResponse> => {
    if (!limit || !counter || (limit.dialect.counts && !limit.dialect.counts(req))) return handler(req);
    const { admitted, window: w } = counter.admit();
    const answer = admitted ? await handler(req) : limit.dialect.tooMany(w, req);
    return { ...answer, headers: { ...answer.headers, ...limit.dialect.headers(w, req) } };
  };

  const takeFault = (method: string): Fault | undefined => {
    const i = queued.findIndex((f) => !f.method || f.method === method);
    if (i < 0) return undefined;
    const fault = queued[i];
    if (fault.skip) {
      queued[i] = { ...fault, skip: fault.skip - 1 };
      return undefined;
    }
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) queued.splice(i, 1);
    else queued[i] = { ...fault, times: left };
    return fault;
  };

  /** The `/__sim/` control routes (the Fault API over HTTP). */
  const control = async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const body = await readBody(req);
    const answer = (status: number, json?: unknown) => send(res, { status, json });
    if (path === '/__sim/faults' && req.method === 'DELETE') {
      queued = [];
      return answer(204);
    }
    if (path === '/__sim/faults' && req.method === 'POST') {
      let posted: unknown;
      try {
        posted = JSON.parse(body.toString('utf8'));
      } catch {
        return answer(400, { error: 'the body must be a JSON fault or an array of faults' });
      }
      const list = Array.isArray(posted) ? posted : [posted];
      const problem = list.map(faultProblem).find((p) => p !== undefined);
      if (problem) return answer(400, { error: problem });
      queued.push(...(list as Fault[]));
      return answer(204);
    }
    if (path === '/__sim/requests' && req.method === 'GET')
      return answer(
        200,
        requests.map(({ method, path: p, status }) => ({ method, path: p, status })),
      );
    const name = path.slice('/__sim/'.length);
    const controls = options.controls ?? {};
    if (req.method !== 'POST' || !Object.hasOwn(controls, name)) return answer(404, { error: `no simulator control ${req.method} ${path}` });
    controls[name]();
    return answer(204);
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/__sim/')) return control(req, res, new URL(req.url, 'http://sim').pathname);
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => (inFlight -= 1));
    // Decoded as bytes, not with TextDecoder (stream/consumers' text()), which would drop a BOM.
    const rawBody = (await readBody(req)).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://sim');
    let body: unknown;
    if (rawBody.length > 0) {
      try {
        body = JSON.parse(rawBody);
      } catch {
        body = INVALID_JSON;
      }
    }
    const method = req.method ?? 'GET';
    const recorded: RecordedRequest = {
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: body === INVALID_JSON ? rawBody : body,
    };
    requests.push(recorded);
    res.on('close', () => {
      if (!res.writableFinished) recorded.aborted = true;
    });

    const fault = takeFault(method);
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault?.hang) return;
    if (fault?.reset) {
      req.socket.destroy();
      return;
    }
    if (fault?.oversizeBytes !== undefined) {
      recorded.status = fault.oversizeStatus ?? 200;
      return streamOversize(res, fault.oversizeBytes, fault.oversizeDeclared === true, recorded.status);
    }
    let answer: SimResponse;
    if (fault?.response) {
      answer = fault.response;
    } else {
      const segments = url.pathname.split('/').filter(Boolean).map(safeDecode);
      try {
        answer = await answerOf({ method, path: url.pathname, segments, query: url.searchParams, headers: req.headers, body, rawBody });
      } catch (err) {
        answer = { status: 500, text: `simulator error: ${(err as Error).message}` };
      }
    }
    recorded.status = answer.status;
    send(res, answer, fault?.truncate);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    maxSockets = Math.max(maxSockets, sockets.size);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${actual}`,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET' && r.status !== undefined && r.status >= 200 && r.status < 300),
    inject: (fault) => void queued.push(fault),
    clearFaults: () => {
      queued = [];
    },
    maxInFlight: () => maxInFlight,
    openSockets: () => sockets.size,
    maxSockets: () => maxSockets,
    reset() {
      requests.length = 0;
      queued = [];
      maxInFlight = inFlight;
      maxSockets = sockets.size;
      counter?.reset();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, answer: SimResponse, truncate = false): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload = '';
  if (answer.json !== undefined) {
    payload = JSON.stringify(answer.json);
    headers['content-type'] ??= 'application/json';
  } else if (answer.text !== undefined) {
    payload = answer.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  // A proxy cut the body: what arrives is a complete HTTP message holding half the JSON.
  if (truncate) payload = payload.slice(0, Math.floor(payload.length / 2));
  res.writeHead(answer.status, headers);
  res.end(payload);
}

/** Streams `{"pad":"xxxx…"}` of about `bytes` bytes with backpressure, stopping when the client hangs up. */
/** The request body's bytes. A plain loop: stream/consumers' buffer() cost the simulator a fifth of its throughput. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function streamOversize(res: ServerResponse, bytes: number, declared: boolean, status: number): Promise<void> {
  // The body is {"pad":"xxx…"}: 10 bytes around the padding.
  res.writeHead(status, { 'content-type': 'application/json', ...(declared && { 'content-length': String(bytes + 10) }) });
  const chunk = Buffer.alloc(64 * 1024, 'x');
  if (!res.write('{"pad":"')) await drained(res);
  for (let sent = 0; sent < bytes && !res.destroyed; ) {
    const part = sent + chunk.length <= bytes ? chunk : chunk.subarray(0, bytes - sent);
    sent += part.length;
    if (!res.write(part)) await drained(res);
  }
  if (!res.destroyed) res.end('"}');
}

function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.once('drain', done);
    res.once('close', done);
  });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** The bearer token of a request, or undefined. */
export function bearerToken(req: SimRequest): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer (.+)$/.exec(h);
  return m?.[1];
}

/** An HTML error page like the ones load balancers send. */
export function htmlPage(status: number, title: string): SimResponse {
  return {
    status,
    text: `<html><head><title>${status} ${title}</title></head><body><center><h1>${status} ${title}</h1></center><hr><center>nginx</center></body></html>`,
    headers: { 'content-type': 'text/html' },
  };
}

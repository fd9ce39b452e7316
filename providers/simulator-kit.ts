/**
 * The shared plumbing of the vendor simulators: a loopback HTTP server that records every request
 * it receives and can be scripted to misbehave (faults). Each `providers/<kind>/simulator.ts`
 * supplies only the vendor's own routes, auth check, validation and state.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

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

/** A scripted misbehaviour, consumed by the next matching requests. */
export interface Fault {
  /** Only requests with this method (default: any). */
  method?: string;
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
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingMessage['headers'];
  body: unknown;
  /** The status answered; undefined while pending, or when the connection was reset or hung. */
  status?: number;
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
  inject(fault: Fault): void;
  clearFaults(): void;
  reset(): void;
  close(): Promise<void>;
}

export async function createSimulatorServer(handler: SimHandler, port = 0): Promise<SimulatorServer> {
  const requests: RecordedRequest[] = [];
  let faults: Fault[] = [];
  const sockets = new Set<Socket>();
  let inFlight = 0;
  let maxInFlight = 0;

  const takeFault = (method: string): Fault | undefined => {
    const i = faults.findIndex((f) => !f.method || f.method === method);
    if (i < 0) return undefined;
    const fault = faults[i];
    const left = (fault.times ?? 1) - 1;
    if (left <= 0) faults.splice(i, 1);
    else faults[i] = { ...fault, times: left };
    return fault;
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    res.on('close', () => (inFlight -= 1));
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
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

    const fault = takeFault(method);
    if (fault?.delayMs) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.hang) return;
    if (fault?.reset) {
      req.socket.destroy();
      return;
    }
    let answer: SimResponse;
    if (fault?.response) {
      answer = fault.response;
    } else {
      const segments = url.pathname.split('/').filter(Boolean).map(safeDecode);
      try {
        answer = await handler({ method, path: url.pathname, segments, query: url.searchParams, headers: req.headers, body, rawBody });
      } catch (err) {
        answer = { status: 500, text: `simulator error: ${(err as Error).message}` };
      }
    }
    recorded.status = answer.status;
    send(res, answer);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const { port: actual } = server.address() as AddressInfo;

  return {
    origin: `http://127.0.0.1:${actual}`,
    requests,
    writes: () => requests.filter((r) => r.method !== 'GET' && r.status !== undefined && r.status >= 200 && r.status < 300),
    inject: (fault) => void faults.push(fault),
    clearFaults: () => void (faults = []),
    maxInFlight: () => maxInFlight,
    reset() {
      requests.length = 0;
      faults = [];
      maxInFlight = inFlight;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, answer: SimResponse): void {
  const headers: Record<string, string> = { ...answer.headers };
  let payload = '';
  if (answer.json !== undefined) {
    payload = JSON.stringify(answer.json);
    headers['content-type'] ??= 'application/json';
  } else if (answer.text !== undefined) {
    payload = answer.text;
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  }
  res.writeHead(answer.status, headers);
  res.end(payload);
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

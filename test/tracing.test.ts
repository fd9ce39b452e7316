/**
 * Optional tracing: spans for the GraphQL operation and each upstream call reach an OTLP/HTTP
 * collector, the upstream span's traceparent reaches the vendor, and no variable, body or
 * credential is in any span. Off (the default), nothing is sent and no traceparent goes upstream.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { registerSecret, startGateway, UPDATE } from './harness.ts';

const TOKEN = 'mesa_tracing_token_8642';
registerSecret(TOKEN);

let sim: MesaSimulator;
let collector: Server;
let collectorUrl: string;
const exports: string[] = [];

beforeAll(async () => {
  sim = await createMesaSimulator({ org: 'acme', tokens: { [TOKEN]: ['admin'] }, keys: [demoKey('key_t', 'T', {})] });
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      exports.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`;
});
afterAll(async () => {
  await sim?.close();
  await new Promise<void>((r) => collector.close(() => r()));
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

function spans(): OtlpSpan[] {
  return exports.flatMap((e) => {
    const doc = JSON.parse(e);
    return doc.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans));
  });
}
const attr = (s: OtlpSpan, key: string) => {
  const v = s.attributes.find((a) => a.key === key)?.value;
  return v && Object.values(v)[0];
};

describe('tracing', () => {
  it('exports the operation span and its upstream span, forwards traceparent, and records no variables or secrets', async () => {
    const gw = await startGateway({
      providers: { mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN } },
      tracing: { otlpEndpoint: collectorUrl, serviceName: 'keygate-test' },
    });
    const res = await gw.gql(UPDATE, { provider: 'mesa', id: 'key_t', patch: { setTags: [{ key: 'secretish', value: 'variable-value-xyz' }] } });
    expect(res.body.errors).toBeUndefined();
    await gw.close(); // flushes the exporter
    const all = spans();
    const op = all.find((s) => s.name === 'graphql.mutation');
    const up = all.find((s) => s.name === 'upstream PATCH');
    expect(op).toBeDefined();
    expect(up).toBeDefined();
    expect(up!.traceId).toBe(op!.traceId);
    expect(up!.parentSpanId).toBe(op!.spanId);
    expect(attr(up!, 'keygate.provider')).toBe('mesa');
    expect(attr(up!, 'http.request.method')).toBe('PATCH');
    expect(Number(attr(up!, 'http.response.status_code'))).toBe(200);
    expect(Number(attr(up!, 'keygate.attempt'))).toBe(1);
    expect(attr(op!, 'graphql.operation.name')).toBe('UpdateApiKey');
    const traceparent = sim.requests[0].headers.traceparent as string;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
    // Exported ids are hex (JSON OTLP) and the forwarded traceparent names the upstream span.
    expect(traceparent.split('-')[1]).toBe(up!.traceId);
    expect(traceparent.split('-')[2]).toBe(up!.spanId);
    const exported = exports.join('\n');
    for (const leak of ['variable-value-xyz', 'secretish', TOKEN, 'authorization']) expect(exported).not.toContain(leak);
  });

  it('sends no traceparent and exports nothing when tracing is off (the default)', async () => {
    exports.length = 0;
    sim.reset();
    const gw = await startGateway({ providers: { mesa: { kind: 'mesa', baseUrl: sim.baseUrl, org: 'acme', token: TOKEN } } });
    await gw.gql(UPDATE, { provider: 'mesa', id: 'key_t', patch: { removeTags: ['x'] } });
    await gw.close();
    expect(sim.requests[0].headers.traceparent).toBeUndefined();
    expect(exports).toHaveLength(0);
  });
});

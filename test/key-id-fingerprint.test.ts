/**
 * A Tyk key id is the live key (unless keys are addressed by hash): keygate keeps only its
 * fingerprint in log lines, audit rows and spans, finds audit entries by the raw id, and still
 * echoes the id to the caller who sent it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTykSimulator, demoSession, hashOf, type TykSimulator } from '../providers/tyk/simulator.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const ORG = '5e9d9544a1dcd60001d0ed20';
/** Live keys: each id below is what a client sends to the Tyk gateway. */
const KEY = `${ORG}c0ffee00c0ffee00c0ffee00c0ffee01`;
const B64_KEY = Buffer.from(JSON.stringify({ org: ORG, id: 'fa11fa11fa11fa11fa11fa11fa11fa12', h: 'murmur64' })).toString('base64');
const MISSING = `${ORG}c0ffee00c0ffee00c0ffee00c0ffee99`;
const DASH = 'fingerprint-dashboard-key-1';
const GW = 'fingerprint-gateway-secret-2';
registerSecret(DASH, GW);

let sim: TykSimulator;
let gw: TestGateway;
let collector: Server;
const exported: string[] = [];

beforeAll(async () => {
  sim = await createTykSimulator({
    adminSecret: 'fingerprint-admin-secret-3',
    dashboardUsers: { [DASH]: { write: true } },
    gatewaySecret: GW,
    hashKeys: true,
    keys: { [KEY]: demoSession('fp', []), [B64_KEY]: demoSession('fp-b64', []) },
  });
  registerSecret('fingerprint-admin-secret-3');
  collector = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      exported.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  gw = await startGateway({
    providers: {
      tyk: { kind: 'tyk', baseUrl: sim.baseUrl, apiKey: DASH },
      hashed: { kind: 'tyk', baseUrl: sim.baseUrl, secret: GW, hashedKeyIds: true },
    },
    tracing: { otlpEndpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`, serviceName: 'keygate-test' },
  });
});
afterAll(async () => {
  await sim?.close();
  await new Promise<void>((r) => collector.close(() => r()));
});

describe('tyk key ids are fingerprinted where keygate keeps them', () => {
  it('is sha256: and the first 16 hex digits of the SHA-256', () => {
    expect(fingerprintKeyId(KEY)).toBe(`sha256:${createHash('sha256').update(KEY).digest('hex').slice(0, 16)}`);
  });

  it('keeps no raw id in logs, audit rows or spans, answers with the id, and finds audit entries by the raw id', async () => {
    const ok = await gw.gql(UPDATE, { provider: 'tyk', id: KEY, patch: { name: 'fingerprinted' } });
    expect(ok.body.errors).toBeUndefined();
    // The caller who sent the id gets it back.
    expect(ok.body.data!.updateApiKey.id).toBe(KEY);
    const b64 = await gw.gql(UPDATE, { provider: 'tyk', id: B64_KEY, patch: { enabled: false } });
    expect(b64.body.errors).toBeUndefined();
    // A failure logs the upstream path: with the id's fingerprint in it.
    const missing = await gw.gql(UPDATE, { provider: 'tyk', id: MISSING, patch: { name: 'x' } });
    expect(missing.body.errors![0].extensions.code).toBe('NOT_FOUND');
    expect(missing.body.errors![0].message).toContain(MISSING);
    const preview = await gw.gql(`{ previewApiKeyUpdate(provider: "tyk", id: "${KEY}", patch: { name: "p" }) { requests { url } } }`);
    expect(preview.body.errors).toBeUndefined();

    const audit = await gw.gql(`{ auditLog(filter: { keyId: "${KEY}" }, first: 10) { edges { node { keyId operation outcome } } } }`);
    expect(audit.body.errors).toBeUndefined();
    expect(audit.body.data!.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { keyId: fingerprintKeyId(KEY), operation: 'preview', outcome: 'OK' },
      { keyId: fingerprintKeyId(KEY), operation: 'update', outcome: 'OK' },
    ]);
    const byProvider = await gw.gql(`{ auditLog(filter: { provider: "tyk", keyId: "${MISSING}" }, first: 10) { edges { node { keyId outcome } } } }`);
    expect(byProvider.body.data!.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([{ keyId: fingerprintKeyId(MISSING), outcome: 'NOT_FOUND' }]);

    const logs = gw.logs.join('\n');
    expect(logs).toContain(fingerprintKeyId(KEY));
    expect(logs).toContain(`/api/keys/${fingerprintKeyId(MISSING)}`);
    const db = new DatabaseSync(gw.auditPath!, { readOnly: true });
    const rows = JSON.stringify(db.prepare('SELECT * FROM audit_log').all());
    db.close();
    const auditFile = readFileSync(gw.auditPath!, 'latin1');
    await gw.close(); // flushes the span exporter
    const spans = exported.join('\n');
    expect(spans).toContain(fingerprintKeyId(KEY));
    for (const id of [KEY, B64_KEY, MISSING, encodeURIComponent(B64_KEY)]) {
      expect(logs).not.toContain(id);
      expect(rows).not.toContain(id);
      expect(spans).not.toContain(id);
      expect(auditFile).not.toContain(id);
    }
  });
});

describe('tyk key hashes are not secrets', () => {
  it('keeps a hash as it is when the gateway addresses keys by hash', async () => {
    const hgw = await startGateway({ providers: { hashed: { kind: 'tyk', baseUrl: sim.baseUrl, secret: GW, hashedKeyIds: true } } });
    try {
      const hash = hashOf(KEY);
      const res = await hgw.gql(UPDATE, { provider: 'hashed', id: hash, patch: { name: 'by hash' } });
      expect(res.body.errors).toBeUndefined();
      const audit = await hgw.gql(`{ auditLog(filter: { keyId: "${hash}" }, first: 5) { edges { node { keyId } } } }`);
      expect(audit.body.data!.auditLog.edges).toEqual([{ node: { keyId: hash } }]);
      expect(hgw.logs.join('\n')).toContain(hash);
    } finally {
      await hgw.close();
    }
  });
});

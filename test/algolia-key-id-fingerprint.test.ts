/**
 * An Algolia key id is the key itself: like Tyk's (test/key-id-fingerprint.test.ts), keygate keeps
 * only its fingerprint in log lines, audit rows and spans, finds audit entries by the raw id, and
 * still answers the caller who sent it with the id.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { algoliaKey, createAlgoliaSimulator, type AlgoliaSimulator } from '../providers/algolia/simulator.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const APP = 'FPAPP7';
const ADMIN = 'algolia_fp_admin_key_0d1e2f3a4b5c';
registerSecret(ADMIN);
/** Live search keys: each id below is what a browser would send to Algolia. */
const KEY = 'f1e2d3c4b5a697887766554433221100';
const MISSING = 'f1e2d3c4b5a697887766554433221199';

let sim: AlgoliaSimulator;
let gw: TestGateway;
let collector: Server;
const exported: string[] = [];

beforeAll(async () => {
  sim = await createAlgoliaSimulator({ applicationId: APP, adminKey: ADMIN, keys: [algoliaKey(KEY, 'Storefront', { acl: ['search'] })] });
  collector = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      exported.push(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
  gw = await startGateway({
    providers: { algolia: { kind: 'algolia', baseUrl: sim.baseUrl, applicationId: APP, apiKey: ADMIN } },
    tracing: { otlpEndpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`, serviceName: 'keygate-test' },
  });
});
afterAll(async () => {
  await sim?.close();
  await new Promise<void>((r) => collector.close(() => r()));
});

describe('algolia key ids are fingerprinted where keygate keeps them', () => {
  it('keeps no raw id in logs, audit rows or spans, answers with the id, and finds audit entries by the raw id', async () => {
    const ok = await gw.gql(UPDATE, { provider: 'algolia', id: KEY, patch: { name: 'fingerprinted' } });
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data!.updateApiKey.id).toBe(KEY);
    // What the vendor received: the id in the path, as it must be.
    expect(sim.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /1/keys/${KEY}`, `PUT /1/keys/${KEY}`]);
    // A failure logs the upstream path: with the id's fingerprint in it.
    const missing = await gw.gql(UPDATE, { provider: 'algolia', id: MISSING, patch: { name: 'x' } });
    expect(missing.body.errors![0].extensions.code).toBe('NOT_FOUND');
    expect(missing.body.errors![0].message).toContain(MISSING);
    const preview = await gw.gql(`{ previewApiKeyUpdate(provider: "algolia", id: "${KEY}", patch: { name: "p" }) { requests { url } } }`);
    expect(preview.body.errors).toBeUndefined();
    const read = await gw.gql(`{ apiKey(provider: "algolia", id: "${KEY}") { id name } }`);
    expect(read.body.data!.apiKey).toEqual({ id: KEY, name: 'fingerprinted' });

    const audit = await gw.gql(`{ auditLog(filter: { keyId: "${KEY}" }, first: 10) { edges { node { keyId operation outcome } } } }`);
    expect(audit.body.errors).toBeUndefined();
    expect(audit.body.data!.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([
      { keyId: fingerprintKeyId(KEY), operation: 'preview', outcome: 'OK' },
      { keyId: fingerprintKeyId(KEY), operation: 'update', outcome: 'OK' },
    ]);
    const byProvider = await gw.gql(`{ auditLog(filter: { provider: "algolia", keyId: "${MISSING}" }, first: 10) { edges { node { keyId outcome } } } }`);
    expect(byProvider.body.data!.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([{ keyId: fingerprintKeyId(MISSING), outcome: 'NOT_FOUND' }]);

    const logs = gw.logs.join('\n');
    expect(logs).toContain(fingerprintKeyId(KEY));
    expect(logs).toContain(`/1/keys/${fingerprintKeyId(MISSING)}`);
    const db = new DatabaseSync(gw.auditPath!, { readOnly: true });
    const rows = JSON.stringify(db.prepare('SELECT * FROM audit_log').all());
    db.close();
    const auditFile = readFileSync(gw.auditPath!, 'latin1');
    await gw.close(); // flushes the span exporter
    const spans = exported.join('\n');
    expect(spans).toContain(fingerprintKeyId(KEY));
    for (const id of [KEY, MISSING]) {
      expect(logs).not.toContain(id);
      expect(rows).not.toContain(id);
      expect(spans).not.toContain(id);
      expect(auditFile).not.toContain(id);
    }
  });
});

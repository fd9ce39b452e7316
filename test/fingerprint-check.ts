/**
 * The shared proof for vendors whose key id is itself a live key (an adapter's `idIsSecret`):
 * keygate keeps only the id's fingerprint in log lines, audit rows, job rows and spans, finds audit
 * entries by the raw id, and still answers the caller who sent it with the id.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { expect } from 'vitest';
import { fingerprintKeyId } from '../src/core/key-ids.ts';
import { UPDATE, type TestGateway } from './harness.ts';

/** An OTLP/HTTP collector on loopback that keeps every export body. */
export async function startSpanCollector(): Promise<{ endpoint: string; exported: string[]; close(): Promise<void> }> {
  const exported: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      exported.push(Buffer.concat(chunks).toString());
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    exported,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export interface FingerprintCase {
  gw: TestGateway;
  provider: string;
  /** An existing key's id (a live credential). */
  key: string;
  /** An id the vendor does not know. */
  missing: string;
  /** The upstream path up to the id, as a failure's log line shows it (`/api/keys/`). */
  pathPrefix: string;
  /** Other raw ids the test used on this gateway: none may be kept either. */
  otherIds?: string[];
  /** The span collector the gateway exports to. */
  exported: string[];
}

/**
 * Updates `key` (answered with the id), fails on `missing`, previews `key`, runs a one-item job on
 * `key`, then checks the audit look-ups by raw id and that no raw id is in the logs, the audit and
 * job rows, the database file or the spans. Closes the gateway (to flush the span exporter).
 */
export async function expectIdsKeptAsFingerprints(c: FingerprintCase): Promise<void> {
  const { gw, provider, key, missing } = c;
  const ok = await gw.gql(UPDATE, { provider, id: key, patch: { name: 'fingerprinted' } });
  expect(ok.body.errors).toBeUndefined();
  // The caller who sent the id gets it back.
  expect(ok.body.data!.updateApiKey.id).toBe(key);
  // A failure names the id to its caller, and logs the upstream path with the fingerprint in it.
  const failed = await gw.gql(UPDATE, { provider, id: missing, patch: { name: 'x' } });
  expect(failed.body.errors![0].extensions.code).toBe('NOT_FOUND');
  expect(failed.body.errors![0].message).toContain(missing);
  const preview = await gw.gql(`{ previewApiKeyUpdate(provider: "${provider}", id: "${key}", patch: { name: "p" }) { requests { url } } }`);
  expect(preview.body.errors).toBeUndefined();

  const audit = await gw.gql(`{ auditLog(filter: { keyId: "${key}" }, first: 10) { edges { node { keyId operation outcome } } } }`);
  expect(audit.body.errors).toBeUndefined();
  expect(audit.body.data!.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([
    { keyId: fingerprintKeyId(key), operation: 'preview', outcome: 'OK' },
    { keyId: fingerprintKeyId(key), operation: 'update', outcome: 'OK' },
  ]);
  const byProvider = await gw.gql(`{ auditLog(filter: { provider: "${provider}", keyId: "${missing}" }, first: 10) { edges { node { keyId outcome } } } }`);
  expect(byProvider.body.data!.auditLog.edges.map((e: { node: unknown }) => e.node)).toEqual([{ keyId: fingerprintKeyId(missing), outcome: 'NOT_FOUND' }]);

  // A finished job keeps the fingerprint, not the live key, and shows its starter that.
  const started = await gw.gql(`mutation { startApiKeyUpdateJob(updates: [{ provider: "${provider}", id: "${key}", patch: { name: "by job" } }]) { id } }`);
  expect(started.body.errors).toBeUndefined();
  const jobId = started.body.data!.startApiKeyUpdateJob.id;
  let job: { state: string; results: { edges: { node: { id: string; state: string; apiKey: { id: string } | null } }[] } } | undefined;
  for (let i = 0; i < 1500 && !['SUCCEEDED', 'FAILED'].includes(job?.state ?? ''); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 20));
    const res = await gw.gql(`{ apiKeyUpdateJob(id: "${jobId}") { state results(first: 5) { edges { node { id state apiKey { id } } } } } }`);
    job = res.body.data!.apiKeyUpdateJob;
  }
  expect(job!.state).toBe('SUCCEEDED');
  expect(job!.results.edges.map((e) => e.node)).toEqual([{ id: fingerprintKeyId(key), state: 'SUCCEEDED', apiKey: { id: fingerprintKeyId(key) } }]);

  const logs = gw.logs.join('\n');
  expect(logs).toContain(fingerprintKeyId(key));
  expect(logs).toContain(`${c.pathPrefix}${fingerprintKeyId(missing)}`);
  const db = new DatabaseSync(gw.auditPath!);
  const rows = JSON.stringify([db.prepare('SELECT * FROM audit_log').all(), db.prepare('SELECT * FROM update_job_item').all()]);
  // Every page into the file and the WAL emptied: what the file holds is the rows' latest state.
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  const dbFile = readFileSync(gw.auditPath!, 'latin1') + readFileSync(`${gw.auditPath}-wal`, 'latin1');
  await gw.close(); // flushes the span exporter
  const spans = c.exported.join('\n');
  expect(spans).toContain(fingerprintKeyId(key));
  for (const id of [key, missing, ...(c.otherIds ?? [])]) {
    expect(logs).not.toContain(id);
    expect(rows).not.toContain(id);
    expect(spans).not.toContain(id);
    expect(dbFile).not.toContain(id);
  }
}

/**
 * A Tyk key id is the live key (unless keys are addressed by hash): keygate keeps only its
 * fingerprint in log lines, audit rows, finished job rows and spans, finds audit entries by the raw
 * id, and still echoes the id to the caller who sent it (the checks: test/fingerprint-check.ts).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTykSimulator, demoSession, hashOf, type TykSimulator } from '../providers/tyk/simulator.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';
import { expectIdsKeptAsFingerprints, startSpanCollector } from './fingerprint-check.ts';
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
let collector: Awaited<ReturnType<typeof startSpanCollector>>;

beforeAll(async () => {
  sim = await createTykSimulator({
    adminSecret: 'fingerprint-admin-secret-3',
    dashboardUsers: { [DASH]: { write: true } },
    gatewaySecret: GW,
    hashKeys: true,
    keys: { [KEY]: demoSession('fp', []), [B64_KEY]: demoSession('fp-b64', []) },
  });
  registerSecret('fingerprint-admin-secret-3');
  collector = await startSpanCollector();
  gw = await startGateway({
    providers: {
      tyk: { kind: 'tyk', baseUrl: sim.baseUrl, apiKey: DASH },
      hashed: { kind: 'tyk', baseUrl: sim.baseUrl, secret: GW, hashedKeyIds: true },
    },
    tracing: { otlpEndpoint: collector.endpoint, serviceName: 'keygate-test' },
  });
});
afterAll(async () => {
  await sim?.close();
  await collector?.close();
});

describe('tyk key ids are fingerprinted where keygate keeps them', () => {
  it('is sha256: and the first 16 hex digits of the SHA-256', () => {
    expect(fingerprintKeyId(KEY)).toBe(`sha256:${createHash('sha256').update(KEY).digest('hex').slice(0, 16)}`);
  });

  it('keeps no raw id in logs, audit rows, job rows or spans, answers with the id, and finds audit entries by the raw id', async () => {
    const b64 = await gw.gql(UPDATE, { provider: 'tyk', id: B64_KEY, patch: { enabled: false } });
    expect(b64.body.errors).toBeUndefined();
    await expectIdsKeptAsFingerprints({
      gw,
      provider: 'tyk',
      key: KEY,
      missing: MISSING,
      pathPrefix: '/api/keys/',
      otherIds: [B64_KEY, encodeURIComponent(B64_KEY)],
      exported: collector.exported,
    });
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

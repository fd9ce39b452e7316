/**
 * An Algolia key id is the key itself: like Tyk's (test/key-id-fingerprint.test.ts), keygate keeps
 * only its fingerprint in log lines, audit rows, finished job rows and spans, finds audit entries by
 * the raw id, and still answers the caller who sent it with the id (test/fingerprint-check.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { algoliaKey, createAlgoliaSimulator, type AlgoliaSimulator } from '../providers/algolia/simulator.ts';
import { expectIdsKeptAsFingerprints, startSpanCollector } from './fingerprint-check.ts';
import { registerSecret, startGateway, type TestGateway } from './harness.ts';

const APP = 'FPAPP7';
const ADMIN = 'algolia_fp_admin_key_0d1e2f3a4b5c';
registerSecret(ADMIN);
/** Live search keys: each id below is what a browser would send to Algolia. */
const KEY = 'f1e2d3c4b5a697887766554433221100';
const MISSING = 'f1e2d3c4b5a697887766554433221199';

let sim: AlgoliaSimulator;
let gw: TestGateway;
let collector: Awaited<ReturnType<typeof startSpanCollector>>;

beforeAll(async () => {
  sim = await createAlgoliaSimulator({ applicationId: APP, adminKey: ADMIN, keys: [algoliaKey(KEY, 'Storefront', { acl: ['search'] })] });
  collector = await startSpanCollector();
  gw = await startGateway({
    providers: { algolia: { kind: 'algolia', baseUrl: sim.baseUrl, applicationId: APP, apiKey: ADMIN } },
    tracing: { otlpEndpoint: collector.endpoint, serviceName: 'keygate-test' },
  });
});
afterAll(async () => {
  await sim?.close();
  await collector?.close();
});

describe('algolia key ids are fingerprinted where keygate keeps them', () => {
  it('keeps no raw id in logs, audit rows, job rows or spans, answers with the id, and finds audit entries by the raw id', async () => {
    await expectIdsKeptAsFingerprints({ gw, provider: 'algolia', key: KEY, missing: MISSING, pathPrefix: '/1/keys/', exported: collector.exported });
    // What the vendor received: the id in the path, as it must be (read, then write; the job likewise).
    expect(sim.requests.filter((r) => r.path === `/1/keys/${KEY}`).map((r) => r.method)).toEqual(['GET', 'PUT', 'GET', 'GET', 'PUT']);
  });
});

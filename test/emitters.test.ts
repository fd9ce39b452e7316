/**
 * An 'error' event nobody listens to ends a Node process, and with it every call in flight. The
 * EventEmitters keygate holds for its lifetime have a listener; the PostgreSQL clients and the key
 * lock are covered, against the real database, in test/pg-key-lock.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const TOKEN = 'basic_emitters_token_4d5e6f';
registerSecret(TOKEN);

let sim: BasicSimulator;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createBasicSimulator({ projects: { p: { tokens: [TOKEN] } }, keys: { p: [basicKey('key-1', 'Mobile', 'read')] } });
  gw = await startGateway({ providers: { basic: { kind: 'basic', baseUrl: sim.baseUrl, project: 'p', token: TOKEN } } });
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});

describe("the servers' 'error' events", () => {
  it('are logged once listening (an accept failing for want of file descriptors), and keygate keeps serving', async () => {
    const emfile = Object.assign(new Error('accept EMFILE'), { code: 'EMFILE' });
    expect(() => gw.keygate.server.emit('error', emfile)).not.toThrow();
    expect(gw.logs.some((l) => l.includes('server error; still serving') && l.includes('EMFILE'))).toBe(true);
    const res = await gw.gql(UPDATE, { provider: 'basic', id: 'key-1', patch: { name: 'still serving' } });
    expect(res.body.errors).toBeUndefined();
    expect(sim.requests).toHaveLength(1);
  });
});

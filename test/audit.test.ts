/**
 * Issue 5: the append-only audit log, in both stores — SQLite (node:sqlite) and the real
 * PostgreSQL on 127.0.0.1:5432 (test/pg.ts; never mocked) — driven over real loopback HTTP.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { exportSPKI, generateKeyPair, SignJWT, type CryptoKey as JoseKey } from 'jose';
import { escapeIdentifier } from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { basicKey, createBasicSimulator, type BasicSimulator } from '../providers/basic/simulator.ts';
import { createMesaSimulator, demoKey, type MesaSimulator } from '../providers/mesa/simulator.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { createTykSimulator, demoSession, type TykSimulator } from '../providers/tyk/simulator.ts';
import { patchForRecord, timeOrderedUUID } from '../src/core/run-operation.ts';
import { createSqliteAuditStore } from '../src/audit/sqlite.ts';
import { type ConfigError, resolveConfig } from '../src/config/schema.ts';
import { describeConfig } from '../src/config/describe.ts';
import { registerSecret, startGateway, until, UPDATE, type TestGateway } from './harness.ts';
import { dropSchema, sql, testDatabaseUrl, uniqueSchema } from './pg.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';

const S = { mesa: 'mesa_audit_token_a1b2c3d4', basic: 'basic_audit_token_e5f6a7b8', tyk: 'tyk_audit_admin_secret_c9d0' };
const T = {
  admin: 'kg_audit_admin_token_0a1b2c3d4e',
  writer: 'kg_audit_basic_writer_5f6a7b8c9d',
  auditor: 'kg_audit_auditor_token_0e1f2a3b',
  basicAuditor: 'kg_audit_basic_auditor_4c5d6e7f',
};
const PATCH_SECRETS = { hmac: 'tyk_audit_patch_hmac_11aa22bb', jwt: 'tyk_audit_patch_jwt_33cc44dd', password: 'tyk_audit_patch_pw_55ee66ff' };
registerSecret(...Object.values(S), ...Object.values(T), ...Object.values(PATCH_SECRETS));

const TYK_KEY = '5e9d9544a1dcd60001d0ed20aaaabbbbccccddddeeeeffff00001111';
const tokens = [
  { name: 'admin', token: T.admin, scopes: ['keys:read', 'keys:write'] },
  { name: 'basic-writer', token: T.writer, scopes: ['keys:write:basic'] },
  { name: 'auditor', token: T.auditor, scopes: ['audit:read'] },
  { name: 'basic-auditor', token: T.basicAuditor, scopes: ['audit:read:basic'] },
];

const ISSUER = 'https://idp.test/';
let jwtKey: JoseKey;
let jwtPublicKey: string;
/** A JWT the audit gateways accept, naming its caller by `sub`; registered as a secret. */
async function signJwt(sub: string, scope: string): Promise<string> {
  const jwt = await new SignJWT({ scope })
    .setProtectedHeader({ alg: 'ES256' })
    .setIssuer(ISSUER)
    .setAudience('keygate')
    .setSubject(sub)
    .setExpirationTime('5m')
    .sign(jwtKey);
  registerSecret(jwt);
  return jwt;
}
const auth = () => ({ tokens, jwt: { issuer: ISSUER, audience: 'keygate', publicKey: jwtPublicKey, algorithms: ['ES256'] } });

let mesa: MesaSimulator;
let basic: BasicSimulator;
let tyk: TykSimulator;
const providers = () => ({
  mesa: { kind: 'mesa', baseUrl: mesa.baseUrl, org: 'acme', token: S.mesa },
  basic: { kind: 'basic', baseUrl: basic.baseUrl, project: 'p1', token: S.basic },
  tyk: { kind: 'tyk', baseUrl: tyk.baseUrl, adminSecret: S.tyk },
});

beforeAll(async () => {
  mesa = await createMesaSimulator({ org: 'acme', tokens: { [S.mesa]: ['admin'] }, keys: [demoKey('key_a', 'A', {}), demoKey('key_b', 'B', {})] });
  basic = await createBasicSimulator({ projects: { p1: { tokens: [S.basic] } }, keys: { p1: [basicKey('b-1', 'Mobile', 'read')] } });
  tyk = await createTykSimulator({ adminSecret: S.tyk, keys: { [TYK_KEY]: demoSession('audit-key', ['t']) } });
  const pair = await generateKeyPair('ES256', { extractable: true });
  jwtKey = pair.privateKey;
  jwtPublicKey = await exportSPKI(pair.publicKey);
});
afterAll(async () => {
  await Promise.all([mesa?.close(), basic?.close(), tyk?.close()]);
});
beforeEach(() => {
  for (const s of [mesa, basic, tyk]) s.reset();
});

/** One store under test: its config section and a direct SQL connection to it (not keygate's). */
interface StoreUnderTest {
  audit(): Promise<Record<string, unknown>>;
  /** Runs SQL on the audit table (named `$t` in the text) through a connection of the test's own. */
  exec(text: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  cleanup(): Promise<void>;
}

function sqliteStore(): StoreUnderTest {
  const dir = mkdtempSync(join(tmpdir(), 'keygate-audit-test-'));
  const path = join(dir, 'audit.db');
  return {
    audit: async () => ({ sqlite: path }),
    async exec(text, params = []) {
      const db = new DatabaseSync(path);
      try {
        const stmt = db.prepare(text.replaceAll('$t', 'audit_log').replace(/\$\d+/g, '?'));
        if (/^\s*select/i.test(text)) return stmt.all(...(params as never[])) as Record<string, unknown>[];
        stmt.run(...(params as never[]));
        return [];
      } finally {
        db.close();
      }
    },
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresStore(): StoreUnderTest {
  const schema = uniqueSchema('audit');
  return {
    audit: async () => ({ postgres: await testDatabaseUrl(), schema }),
    exec: (text, params) => sql(text.replaceAll('$t', `${escapeIdentifier(schema)}.audit_log`), params),
    cleanup: () => dropSchema(schema),
  };
}

const ENTRY_FIELDS = 'id at caller requestId provider keyId operation patch outcome upstreamStatus traceId attempts durationMs';
const AUDIT_LOG = `query($filter: AuditLogFilter, $first: Int, $after: String) {
  auditLog(filter: $filter, first: $first, after: $after) { edges { cursor node { ${ENTRY_FIELDS} } } pageInfo { hasNextPage endCursor } }
}`;

describe.each([
  ['sqlite', sqliteStore],
  ['postgres', postgresStore],
])('audit log in %s', (kind, makeStore) => {
  let store: StoreUnderTest;
  let gw: TestGateway;

  beforeAll(async () => {
    store = makeStore();
    gw = await startGateway({ providers: providers(), auth: auth(), audit: await store.audit() });
  });
  afterAll(async () => {
    await gw?.close();
    await store?.cleanup();
  });

  const entries = async (filter: Record<string, unknown>, first = 50, token = T.auditor) => {
    const res = await gw.as(token)(AUDIT_LOG, { filter, first });
    expect(res.body.errors, JSON.stringify(res.body.errors)).toBeUndefined();
    return res.body.data!.auditLog.edges.map((e: { node: Record<string, unknown> }) => e.node) as Record<string, any>[];
  };
  const rid = (label: string) => `${kind}-${label}-${Math.random().toString(36).slice(2, 8)}`;

  it('records a successful update before the answer leaves: caller, request id, provider, key, operation, patch, outcome, status, attempts, duration', async () => {
    const requestId = rid('ok');
    const res = await gw.as(T.admin)(
      UPDATE,
      { provider: 'mesa', id: 'key_a', patch: { setTags: [{ key: 'owner', value: 'alice' }] } },
      { 'x-request-id': requestId },
    );
    expect(res.body.errors).toBeUndefined();
    // Read straight from the store the moment the answer arrived: intent and outcome are there.
    const rows = await store.exec('SELECT phase, outcome FROM $t WHERE request_id = $1 ORDER BY seq', [requestId]);
    expect(rows.map((r) => [r.phase, r.outcome])).toEqual([
      ['intent', 'PENDING'],
      ['outcome', 'OK'],
    ]);
    const [entry] = await entries({ caller: 'token:admin', keyId: 'key_a' }, 1);
    expect(entry).toEqual({
      id: expect.stringMatching(/^\d+$/),
      at: expect.any(String),
      caller: 'token:admin',
      requestId,
      provider: 'mesa',
      keyId: 'key_a',
      operation: 'update',
      patch: { setTags: [{ key: 'owner', value: 'alice' }] },
      outcome: 'OK',
      upstreamStatus: 200,
      traceId: null,
      attempts: 1,
      durationMs: expect.any(Number),
    });
    expect(Date.now() - Date.parse(entry.at)).toBeLessThan(60_000);
  });

  it('records the attempts of a retried update, and a vendor failure with its status and trace id', async () => {
    mesa.inject(faults.unavailable({ times: 2 }));
    const retried = rid('retry');
    expect(
      (await gw.as(T.admin)(UPDATE, { provider: 'mesa', id: 'key_b', patch: { removeTags: ['x'] } }, { 'x-request-id': retried })).body.errors,
    ).toBeUndefined();
    mesa.inject({ response: { status: 500, json: { error: { code: 'INTERNAL', message: 'boom', trace_id: 'trace-audit-1' } } } });
    const failed = rid('fail');
    const res = await gw.as(T.admin)(UPDATE, { provider: 'mesa', id: 'key_b', patch: { removeTags: ['x'] } }, { 'x-request-id': failed });
    expect(res.body.errors![0].extensions.code).toBe('UPSTREAM_ERROR');
    const [ok] = (await entries({ keyId: 'key_b', outcome: 'OK' })).filter((e) => e.requestId === retried);
    expect(ok).toMatchObject({ outcome: 'OK', upstreamStatus: 200, attempts: 3 });
    const [bad] = (await entries({ keyId: 'key_b', outcome: 'UPSTREAM_ERROR' })).filter((e) => e.requestId === failed);
    expect(bad).toMatchObject({ outcome: 'UPSTREAM_ERROR', upstreamStatus: 500, traceId: 'trace-audit-1', attempts: 1 });
  });

  it('records validation failures and denials, which send nothing', async () => {
    const invalid = rid('invalid');
    await gw.as(T.admin)(UPDATE, { provider: 'mesa', id: 'key_a', patch: { setTags: [{ key: 'k'.repeat(65), value: 'v' }] } }, { 'x-request-id': invalid });
    const badId = rid('badid');
    await gw.as(T.admin)(UPDATE, { provider: 'mesa', id: '../etc', patch: { removeTags: ['x'] } }, { 'x-request-id': badId });
    const denied = rid('denied');
    await gw.as(T.writer)(UPDATE, { provider: 'mesa', id: 'key_a', patch: { removeTags: ['x'] } }, { 'x-request-id': denied });
    const unknown = rid('unknown');
    await gw.as(T.admin)(UPDATE, { provider: '__proto__', id: 'key_a', patch: { removeTags: ['x'] } }, { 'x-request-id': unknown });
    expect(mesa.requests).toHaveLength(0);
    const byRequest = new Map((await entries({}, 200)).map((e) => [e.requestId, e]));
    expect(byRequest.get(invalid)).toMatchObject({ outcome: 'BAD_USER_INPUT', provider: 'mesa', upstreamStatus: null, attempts: null });
    expect(byRequest.get(badId)).toMatchObject({ outcome: 'BAD_USER_INPUT', keyId: '../etc' });
    expect(byRequest.get(denied)).toMatchObject({ outcome: 'FORBIDDEN', caller: 'token:basic-writer', provider: 'mesa', patch: { removeTags: ['x'] } });
    expect(byRequest.get(unknown)).toMatchObject({ outcome: 'UNKNOWN_PROVIDER', provider: '__proto__' });
    // None of them got as far as an intent: one row each.
    for (const id of [invalid, badId, denied, unknown])
      expect(await store.exec('SELECT phase FROM $t WHERE request_id = $1', [id])).toEqual([{ phase: 'outcome' }]);
  });

  it('records a refused id and patch holding lone surrogates, Infinity or NUL as sent (escaped), not as U+FFFD, null or AUDIT_UNAVAILABLE', async () => {
    const requestId = rid('illformed');
    const patch = '{ tyk: { meta_data: { k: "nul\\u0000", n: 1e309 } }, removeTags: ["t"] }';
    const res = await gw.as(T.admin)(
      `mutation($id: ID!) { updateApiKey(provider: "tyk", id: $id, patch: ${patch}) { id } }`,
      { id: 'x\ud800' },
      { 'x-request-id': requestId },
    );
    expect(res.body.errors?.[0].extensions.code, res.text).toBe('BAD_USER_INPUT');
    const bad = rid('illformed-patch');
    const refused = await gw.as(T.admin)(UPDATE, { provider: 'mesa', id: 'key_a', patch: { removeTags: ['t\udc00', 'nul\u0000'] } }, { 'x-request-id': bad });
    expect(refused.body.errors?.[0].extensions.code, refused.text).toBe('BAD_USER_INPUT');
    const nulId = rid('nul-id');
    const nul = await gw.as(T.admin)(UPDATE, { provider: 'mesa', id: 'a\u0000b', patch: { removeTags: ['t'] } }, { 'x-request-id': nulId });
    expect(nul.body.errors?.[0].extensions.code, nul.text).toBe('BAD_USER_INPUT');
    expect(mesa.requests).toHaveLength(0);
    const byRequest = new Map((await entries({}, 200)).map((e) => [e.requestId, e]));
    expect(byRequest.get(nulId)).toMatchObject({ outcome: 'BAD_USER_INPUT', keyId: 'a\\u0000b' });
    // A Tyk key id is a live key: only its fingerprint is kept (test/key-id-fingerprint.test.ts).
    expect(byRequest.get(requestId)).toMatchObject({
      outcome: 'BAD_USER_INPUT',
      keyId: fingerprintKeyId('x\ud800'),
      patch: { tyk: { meta_data: { k: 'nul\\u0000', n: 'Infinity' } } },
    });
    expect(byRequest.get(bad)).toMatchObject({ outcome: 'BAD_USER_INPUT', patch: { removeTags: ['t\\udc00', 'nul\\u0000'] } });
  });

  it('records previews, and a bulk call over the cap', async () => {
    const preview = rid('preview');
    const p = await gw.as(T.admin)(
      '{ previewApiKeyUpdate(provider: "basic", id: "b-1", patch: { name: "next" }) { requests { method } } }',
      {},
      { 'x-request-id': preview },
    );
    expect(p.body.errors).toBeUndefined();
    const bulk = rid('bulk');
    const updates = Array.from({ length: 101 }, () => ({ provider: 'basic', id: 'b-1', patch: { name: 'x' } }));
    await gw.as(T.admin)('mutation($u: [ApiKeyUpdateInput!]!) { updateApiKeys(updates: $u) { id } }', { u: updates }, { 'x-request-id': bulk });
    const byRequest = new Map((await entries({}, 200)).map((e) => [e.requestId, e]));
    expect(byRequest.get(preview)).toMatchObject({ operation: 'preview', provider: 'basic', keyId: 'b-1', patch: { name: 'next' }, outcome: 'OK' });
    expect(byRequest.get(bulk)).toMatchObject({ operation: 'updateApiKeys', provider: null, keyId: null, outcome: 'BAD_USER_INPUT' });
    expect(basic.writes()).toHaveLength(0);
  });

  it('stores the patch with every credential redacted', async () => {
    const requestId = rid('redact');
    const res = await gw.as(T.admin)(
      UPDATE,
      {
        provider: 'tyk',
        id: TYK_KEY,
        patch: {
          setTags: [{ key: 'audited' }],
          tyk: {
            hmac_string: PATCH_SECRETS.hmac,
            jwt_data: { secret: PATCH_SECRETS.jwt },
            basic_auth_data: { user: 'u', password: PATCH_SECRETS.password },
            hmac_enabled: true,
          },
        },
      },
      { 'x-request-id': requestId },
    );
    expect(res.body.errors).toBeUndefined();
    const raw = JSON.stringify(await store.exec('SELECT * FROM $t WHERE request_id = $1', [requestId]));
    for (const secret of Object.values(PATCH_SECRETS)) expect(raw).not.toContain(secret);
    const [entry] = (await entries({ keyId: TYK_KEY })).filter((e) => e.requestId === requestId);
    expect(entry.patch).toEqual({
      setTags: [{ key: 'audited', value: null }],
      tyk: { hmac_string: '[redacted]', jwt_data: { secret: '[redacted]' }, basic_auth_data: { user: 'u', password: '[redacted]' }, hmac_enabled: true },
    });
  });

  it('shows an update in flight as PENDING, then its outcome', async () => {
    // Slow enough that the audit query below runs while the update is at the vendor, however loaded the machine.
    mesa.inject(faults.delay(1_500, { method: 'PATCH' }));
    const requestId = rid('pending');
    const update = gw.as(T.admin)(UPDATE, { provider: 'mesa', id: 'key_a', patch: { removeTags: ['p'] } }, { 'x-request-id': requestId });
    await until(() => mesa.requests.length > 0, { what: 'the update to reach the vendor' });
    const pending = (await entries({ keyId: 'key_a', outcome: 'PENDING' })).filter((e) => e.requestId === requestId);
    expect(pending).toHaveLength(1);
    expect((await update).body.errors).toBeUndefined();
    expect((await entries({ keyId: 'key_a' })).filter((e) => e.requestId === requestId).map((e) => e.outcome)).toEqual(['OK']);
  });

  it('is append-only: UPDATE and DELETE are refused by triggers', async () => {
    const before = await store.exec('SELECT count(*) AS n FROM $t');
    await expect(store.exec("UPDATE $t SET outcome = 'OK'")).rejects.toThrow(/append-only/);
    await expect(store.exec('DELETE FROM $t')).rejects.toThrow(/append-only/);
    await expect(store.exec("DELETE FROM $t WHERE outcome = 'FORBIDDEN'")).rejects.toThrow(/append-only/);
    if (kind === 'postgres') await expect(store.exec('TRUNCATE $t')).rejects.toThrow(/append-only/);
    expect(await store.exec('SELECT count(*) AS n FROM $t')).toEqual(before);
  });

  it('serves auditLog only with audit:read, and a narrowed audit:read only its providers', async () => {
    await gw.as(T.writer)(UPDATE, { provider: 'basic', id: 'b-1', patch: { name: 'for-audit' } });
    const denied = await gw.as(T.admin)(AUDIT_LOG, {});
    expect(denied.body.errors![0].extensions.code).toBe('FORBIDDEN');
    const narrowed = await entries({}, 200, T.basicAuditor);
    expect(narrowed.length).toBeGreaterThan(0);
    expect(new Set(narrowed.map((e) => e.provider))).toEqual(new Set(['basic']));
    const other = await gw.as(T.basicAuditor)(AUDIT_LOG, { filter: { provider: 'mesa' } });
    expect(other.body.errors![0].extensions).toMatchObject({ code: 'FORBIDDEN', provider: 'mesa' });
  });

  it('filters by provider, key, caller, outcome and time, and pages newest first', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    for (let i = 0; i < 5; i++) await gw.as(T.writer)(UPDATE, { provider: 'basic', id: 'b-1', patch: { name: `page-${i}` } });
    const all = await entries({ provider: 'basic', caller: 'token:basic-writer', outcome: 'OK', since });
    expect(all.map((e) => e.patch.name).slice(0, 5)).toEqual(['page-4', 'page-3', 'page-2', 'page-1', 'page-0']);
    expect(await entries({ since: new Date(Date.now() + 60_000).toISOString() })).toEqual([]);
    expect(await entries({ provider: 'basic', until: since, caller: 'nobody' })).toEqual([]);

    const first = await gw.as(T.auditor)(AUDIT_LOG, { filter: { provider: 'basic', caller: 'token:basic-writer', since }, first: 2 });
    const page1 = first.body.data!.auditLog;
    expect(page1.pageInfo.hasNextPage).toBe(true);
    const second = await gw.as(T.auditor)(AUDIT_LOG, {
      filter: { provider: 'basic', caller: 'token:basic-writer', since },
      first: 2,
      after: page1.pageInfo.endCursor,
    });
    const ids = [...page1.edges, ...second.body.data!.auditLog.edges].map((e: { node: { id: string } }) => Number(e.node.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    expect(new Set(ids).size).toBe(4);
    const garbage = await gw.as(T.auditor)(AUDIT_LOG, { after: 'not-a-cursor' });
    expect(garbage.body.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
  });

  it('keeps a static token and a JWT subject spelled alike apart, in the audit log and the log lines', async () => {
    // The JWT `sub: admin` beside the token named `admin`, and a subject shaped like the token namespace.
    const callers = [
      { token: T.admin, name: 'token:admin', requestId: rid('ns-token') },
      { token: await signJwt('admin', 'keys:write'), name: `jwt:${ISSUER}#admin`, requestId: rid('ns-jwt') },
      { token: await signJwt('token:admin', 'keys:write'), name: `jwt:${ISSUER}#token:admin`, requestId: rid('ns-forged') },
    ];
    for (const c of callers) {
      const res = await gw.as(c.token)(
        UPDATE,
        { provider: 'mesa', id: 'key_b', patch: { setTags: [{ key: 'by', value: 'x' }] } },
        { 'x-request-id': c.requestId },
      );
      expect(res.body.errors).toBeUndefined();
    }
    expect(mesa.writes()).toHaveLength(3);
    const ours = new Set(callers.map((c) => c.requestId));
    for (const c of callers) {
      const found = (await entries({ caller: c.name, keyId: 'key_b' })).filter((e) => ours.has(e.requestId));
      expect(
        found.map((e) => [e.caller, e.requestId]),
        c.name,
      ).toEqual([[c.name, c.requestId]]);
      const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === c.requestId && l.msg === 'key operation');
      expect(line, c.name).toMatchObject({ caller: c.name, code: 'OK' });
    }
    // A bare name is no caller's name any more.
    expect((await entries({ caller: 'admin', keyId: 'key_b' })).filter((e) => ours.has(e.requestId))).toEqual([]);
    // Caller names are no metric labels.
    expect((await gw.fetch('/metrics')).text).not.toMatch(/token:|jwt:|idp\.test/);
  });

  it('times every audit write (keygate_audit_write_duration_seconds)', async () => {
    const text = (await gw.fetch('/metrics')).text;
    const line = text.split('\n').find((l) => l.startsWith(`keygate_audit_write_duration_seconds_count{store="${kind}"}`));
    expect(Number(line?.split(' ').at(-1))).toBeGreaterThan(0);
  });
});

describe.each([
  ['sqlite', sqliteStore],
  ['postgres', postgresStore],
])('fail closed in %s', (_kind, makeStore) => {
  it('refuses an update with AUDIT_UNAVAILABLE and sends nothing when the store cannot record; /ready says why', async () => {
    const store = makeStore();
    const gw = await startGateway({ providers: providers(), auth: { tokens }, audit: await store.audit() });
    try {
      expect((await gw.as(T.admin)(UPDATE, { provider: 'basic', id: 'b-1', patch: { name: 'before' } })).body.errors).toBeUndefined();
      basic.reset();
      tyk.reset();
      // Someone removes the log from under keygate: it can no longer record.
      await store.exec('DROP TABLE $t');
      for (const u of [
        { provider: 'basic', id: 'b-1', patch: { name: 'after' } },
        { provider: 'tyk', id: TYK_KEY, patch: { enabled: false } },
      ]) {
        const res = await gw.as(T.admin)(UPDATE, u);
        expect(res.body.data).toBeNull();
        expect(res.body.errors![0].extensions).toMatchObject({ code: 'AUDIT_UNAVAILABLE', provider: u.provider });
        expect(res.body.errors![0].message).toContain('nothing was sent');
      }
      expect(basic.requests).toHaveLength(0);
      expect(tyk.requests).toHaveLength(0);
      // A preview reads, but is never answered without its record.
      const preview = await gw.as(T.admin)('{ previewApiKeyUpdate(provider: "basic", id: "b-1", patch: { name: "x" }) { before { name } } }');
      expect(preview.body.errors![0].extensions.code).toBe('AUDIT_UNAVAILABLE');
      const ready = await gw.fetch('/ready');
      expect(ready.status).toBe(503);
      expect(JSON.parse(ready.text).checks.audit).not.toBe('ok');
      expect(gw.logs.some((l) => l.includes('audit write failed; operation refused'))).toBe(true);
    } finally {
      await gw.close();
      await store.cleanup();
    }
  });
});

describe('the open caller', () => {
  it('is anonymous@loopback in the audit log and the log lines of a keygate without auth', async () => {
    const gw = await startGateway({ providers: providers() });
    try {
      const res = await gw.gql(UPDATE, { provider: 'basic', id: 'b-1', patch: { name: 'open' } }, { 'x-request-id': 'open-caller-1' });
      expect(res.body.errors).toBeUndefined();
      expect(basic.writes()).toHaveLength(1);
      const log = await gw.gql(AUDIT_LOG, { filter: { caller: 'anonymous@loopback' } });
      expect(log.body.data!.auditLog.edges.map((e: { node: Record<string, unknown> }) => [e.node.caller, e.node.requestId])).toEqual([
        ['anonymous@loopback', 'open-caller-1'],
      ]);
      const line = gw.logs.map((l) => JSON.parse(l)).find((l) => l.requestId === 'open-caller-1' && l.msg === 'key operation');
      expect(line).toMatchObject({ caller: 'anonymous@loopback' });
    } finally {
      await gw.close();
    }
  });
});

describe('audit configuration', () => {
  const doc = (audit?: unknown) => ({
    providers: { mesa: { kind: 'mesa', baseUrl: 'http://127.0.0.1:9', org: 'acme', token: S.mesa } },
    ...(audit !== undefined && { audit }),
  });

  it('defaults to SQLite beside the config file; `false` turns it off; PostgreSQL passwords are credentials', () => {
    expect(resolveConfig(doc(), { baseDir: '/etc/keygate' }).audit).toEqual({ store: 'sqlite', path: '/etc/keygate/keygate-audit.db', synchronous: 'normal' });
    expect(resolveConfig(doc({ sqlite: 'logs/a.db', synchronous: 'full' }), { baseDir: '/srv' }).audit).toEqual({
      store: 'sqlite',
      path: '/srv/logs/a.db',
      synchronous: 'full',
    });
    expect(resolveConfig(doc(false)).audit).toEqual({ store: 'off' });
    const pgConfig = resolveConfig(doc({ postgres: 'postgres://kg:pg_pass_0987@db:5432/audit' }));
    registerSecret('pg_pass_0987');
    expect(pgConfig.audit).toEqual({ store: 'postgres', url: 'postgres://kg:pg_pass_0987@db:5432/audit', schema: 'keygate' });
    expect(pgConfig.secrets).toContain('pg_pass_0987');
    expect(JSON.stringify(describeConfig(pgConfig))).not.toContain('pg_pass_0987');
    expect(describeConfig(pgConfig).audit).toEqual({ postgres: 'postgres://kg:[redacted]@db:5432/audit', schema: 'keygate' });
  });

  it('names the path of every audit problem', () => {
    const problems = (audit: unknown) => {
      try {
        resolveConfig(doc(audit));
      } catch (err) {
        return (err as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ sqlite: 'a.db', postgres: 'postgres://x@h/db' })).toEqual(['audit: set sqlite or postgres, not both']);
    expect(problems({ sqlite: 'a.db', schema: 'x' })).toEqual(['audit: schema applies to postgres only']);
    expect(problems({ postgres: 'mysql://x' })).toEqual(['audit.postgres: must be a postgres:// or postgresql:// URL']);
    expect(problems({ postgres: 'postgres://x@h/db', schema: 'Bad-Name' })[0]).toMatch(/^audit\.schema: must be a lower-case SQL identifier/);
    expect(problems({ sqlite: 'a.db', retention: 3 })).toEqual(['audit: unknown field(s) retention']);
  });
});

describe('the patch as recorded', () => {
  it('replaces credential fields and any configured credential by "[redacted]", keeps the rest, and survives a patch that cannot be built', () => {
    const secrets = [S.mesa];
    expect(
      patchForRecord(
        { name: `x-${S.mesa}-y`, setTags: [{ key: 'k', value: S.mesa }], tyk: { client_secret: 's', private_key: 'p', hmac_string: '', rate: 5 } },
        secrets,
      ),
    ).toEqual({
      name: '[redacted]',
      setTags: [{ key: 'k', value: '[redacted]' }],
      tyk: { client_secret: '[redacted]', private_key: '[redacted]', hmac_string: '', rate: 5 },
    });
    expect(patchForRecord({ expiresAt: new Date('2030-01-01T00:00:00Z') }, secrets)).toEqual({ expiresAt: '2030-01-01T00:00:00.000Z' });
    expect(
      patchForRecord(() => {
        throw new Error('bad input');
      }, secrets),
    ).toBeNull();
  });
});

describe('PostgreSQL schema', () => {
  it('is created at start and migrated idempotently: a second gateway on the same schema starts cleanly', async () => {
    const schema = uniqueSchema('migrate');
    const url = await testDatabaseUrl();
    try {
      const [a, b] = await Promise.all([
        startGateway({ providers: providers(), audit: { postgres: url, schema } }),
        startGateway({ providers: providers(), audit: { postgres: url, schema } }),
      ]);
      await Promise.all([a.close(), b.close()]);
      expect(await sql(`SELECT version FROM ${escapeIdentifier(schema)}.audit_schema_version ORDER BY version`)).toEqual([
        { version: 1 },
        { version: 2 },
        { version: 3 },
      ]);
      const triggers = await sql(
        'SELECT tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 ORDER BY tgname',
        [schema],
      );
      expect(triggers.map((t) => t.tgname)).toEqual(['audit_log_no_truncate', 'audit_log_no_update_delete']);
    } finally {
      await dropSchema(schema);
    }
  });

  it('refuses to start when the database cannot be reached, naming audit.postgres', async () => {
    await expect(startGateway({ providers: providers(), audit: { postgres: 'postgres://nobody@127.0.0.1:1/test' } })).rejects.toThrow(
      /audit\.postgres: cannot prepare schema "keygate"/,
    );
  });
});

describe('audit attempt ids', () => {
  it('are UUIDv7: the creation millisecond first, version 7, the RFC variant, and random bits', () => {
    const at = Date.UTC(2026, 11, 1, 12, 0, 0, 123);
    const id = timeOrderedUUID(at);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16)).toBe(at);
    expect(timeOrderedUUID(at)).not.toBe(id);
  });

  it('sort by creation time, so the attempt index grows at its end', () => {
    const ids = [0, 1, 2, 1000, 86_400_000].map((dt) => timeOrderedUUID(Date.UTC(2026, 0, 1) + dt));
    expect([...ids].sort()).toEqual(ids);
  });
});

/** An audit row numbered `i`, for the store-level tests. */
const ckptRow = (i: number) => ({
  attemptId: timeOrderedUUID(),
  phase: 'outcome' as const,
  at: new Date(),
  caller: 'ckpt',
  requestId: `r${i}`,
  provider: 'mesa',
  keyId: 'k',
  operation: 'update',
  patch: { setTags: [{ key: 'n', value: String(i) }] },
  outcome: 'OK',
  upstreamStatus: 200,
  traceId: null,
  attempts: 1,
  durationMs: 1,
});

describe('the SQLite audit store', () => {
  it('folds the WAL into the database file from its checkpointer thread, not inside commits', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-ckpt-'));
    const path = join(dir, 'audit.db');
    const store = createSqliteAuditStore(path);
    try {
      const empty = statSync(path).size;
      await Promise.all(Array.from({ length: 300 }, (_, i) => store.append(ckptRow(i))));
      // Committed rows sit in the WAL; automatic checkpoints are off on the writing connection.
      expect(statSync(path).size).toBe(empty);
      await until(() => statSync(path).size > empty, { what: 'the background checkpoint to grow the database file' });
      const { entries } = await store.query({}, 500);
      expect(entries).toHaveLength(300);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('checkpoints inside commits again when its checkpointer thread dies, so the WAL cannot grow for ever', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-ckpt-'));
    const path = join(dir, 'audit.db');
    const dying = new URL(`data:text/javascript,${encodeURIComponent('throw new Error("checkpointer died")')}`);
    const warnings: object[] = [];
    const store = createSqliteAuditStore(path, { checkpointer: dying, log: { warn: (fields, msg) => void warnings.push({ ...fields, msg }) } });
    try {
      const empty = statSync(path).size;
      // One commit each: SQLite's own checkpoint (every 1000 WAL pages) folds the rows in once back on.
      let written = 0;
      while (statSync(path).size === empty && written < 3000) {
        await store.append(ckptRow(written));
        written += 1;
      }
      expect(statSync(path).size, `the database file after ${written} commits`).toBeGreaterThan(empty);
      // From then on the WAL is reused from its start: thousands more commits do not lengthen it.
      const wal = statSync(`${path}-wal`).size;
      for (let i = 0; i < 2500; i++) await store.append(ckptRow(written + i));
      expect(statSync(`${path}-wal`).size).toBeLessThanOrEqual(Math.max(wal, 1100 * 4128));
      // Said once, with the reason.
      expect(warnings).toEqual([{ reason: 'checkpointer died', msg: expect.stringContaining('checkpointer thread failed') }]);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

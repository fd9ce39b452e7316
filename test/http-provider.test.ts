/**
 * `kind: http`: the worked example of docs/adding-a-vendor-in-config.md, run as written against a
 * fake of its vendor (test/fake-acme.ts), and the definition's start-up checks.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../src/config/schema.ts';
import { loadConfigFile } from '../src/config/load.ts';
import { describeConfig } from '../src/config/describe.ts';
import { startKeygate } from '../src/app.ts';
import { faults } from '../sandbox/simulator-kit.ts';
import { createFakeAcme, type AcmeKey, type FakeAcme } from './fake-acme.ts';
import { recordSeen, registerSecret, startGateway, UPDATE, type TestGateway } from './harness.ts';

const TOKEN = 'acme_test_token_5e6f7a8b';
const KEY_SECRET = 'acme_key_secret_value_0c1d2e3f';
registerSecret(TOKEN, KEY_SECRET);

const acmeKey = (id: string, label: string, extra: Partial<AcmeKey> = {}): AcmeKey => ({
  id,
  label,
  disabled: false,
  labels: { env: 'prod' },
  expires_at: null,
  updated_at: '2026-01-01T00:00:00.000Z',
  secret: KEY_SECRET,
  ...extra,
});

/** The first ```yaml block of the docs page, with its `${VAR}`s filled in. */
function docsYaml(env: Record<string, string>): string {
  const page = readFileSync(new URL('../docs/adding-a-vendor-in-config.md', import.meta.url), 'utf8');
  const block = /```yaml\n([\s\S]*?)```/.exec(page)![1];
  return block.replace(/\$\{(\w+)\}/g, (_, name: string) => env[name]);
}
function docsExample(env: Record<string, string>): { providers: Record<string, Record<string, unknown>> } {
  return parseYaml(docsYaml(env));
}

let sim: FakeAcme;
let gw: TestGateway;

beforeAll(async () => {
  sim = await createFakeAcme('acme-corp', TOKEN, [
    acmeKey('k_1', 'CI'),
    acmeKey('k_2', 'Old'),
    acmeKey('k/3', 'Slash'),
    acmeKey('k_4', 'locked'),
    acmeKey('k_5', 'Retry'),
  ]);
  const doc = docsExample({ ACME_URL: sim.origin, ACME_TOKEN: TOKEN });
  // No pacing: the 429 below would pause the connection (test/rate-limit-headers.test.ts covers that).
  const quick = { retry: { attempts: 3, maxDelayMs: 1 }, rateLimit: false };
  const acme = doc.providers.acme as Record<string, any>;
  doc.providers.acme = { ...acme, ...quick };
  doc.providers['acme-post'] = { ...acme, ...quick, update: { ...acme.update, method: 'POST' } };
  gw = await startGateway(doc);
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
});
beforeEach(() => sim.reset());

describe('kind: http — the docs worked example against a fake vendor', () => {
  it('updates with the templated PATCH and answers the mapped key, secrets redacted', async () => {
    const res = await gw.gql(UPDATE, {
      provider: 'acme',
      id: 'k_1',
      patch: { name: 'CI deploys', enabled: false, setTags: [{ key: 'team', value: 'core' }], removeTags: ['env'], expiresAt: '2027-01-01T00:00:00Z' },
    });
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.updateApiKey).toMatchObject({
      provider: 'acme',
      kind: 'HTTP',
      id: 'k_1',
      name: 'CI deploys',
      enabled: false,
      tags: [{ key: 'team', value: 'core' }],
      expiresAt: '2027-01-01T00:00:00.000Z',
      updatedAt: '2026-03-01T10:00:00.000Z',
      raw: { secret: '[redacted]', label: 'CI deploys' },
    });
    expect(sim.requests).toHaveLength(1);
    const [req] = sim.requests;
    expect(req.method).toBe('PATCH');
    expect(req.path).toBe('/orgs/acme-corp/keys/k_1');
    expect(req.headers['x-acme-token']).toBe(TOKEN);
    expect(req.body).toEqual({ label: 'CI deploys', disabled: true, expires_at: '2027-01-01T00:00:00.000Z', labels: { team: 'core', env: null } });
  });

  it('leaves out what the patch does not set, and percent-encodes the id as one path segment', async () => {
    const res = await gw.gql(UPDATE, { provider: 'acme', id: 'k:3', patch: { name: 'x' } });
    expect(res.body.errors?.[0].extensions.code).toBe('NOT_FOUND');
    expect(sim.requests[0].path).toBe('/orgs/acme-corp/keys/k%3A3');
    expect(sim.requests[0].body).toEqual({ label: 'x' });
  });

  it('maps the error body: vendor code table, message and trace id in upstream; status fallback', async () => {
    const locked = await gw.gql(UPDATE, { provider: 'acme', id: 'k_4', patch: { name: 'y' } });
    expect(locked.body.errors?.[0].extensions).toMatchObject({
      code: 'CONFLICT',
      upstream: { status: 409, code: 'key_locked', message: 'key is locked', traceId: 'req_key_locked' },
    });
    const missing = await gw.gql(UPDATE, { provider: 'acme', id: 'nope', patch: { name: 'y' } });
    expect(missing.body.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', upstream: { status: 404, code: 'key_not_found' } });
  });

  it('retries an idempotent update on 503, never a POST (not idempotent unless the definition says so)', async () => {
    sim.inject(faults.unavailable({ times: 2 }));
    const patched = await gw.gql(UPDATE, { provider: 'acme', id: 'k_5', patch: { name: 'retried' } });
    expect(patched.body.errors).toBeUndefined();
    expect(sim.requests.map((r) => r.method)).toEqual(['PATCH', 'PATCH', 'PATCH']);
    sim.reset();
    sim.inject(faults.unavailable({ times: 2 }));
    const posted = await gw.gql(UPDATE, { provider: 'acme-post', id: 'k_5', patch: { name: 'once' } });
    expect(posted.body.errors?.[0].extensions).toMatchObject({ code: 'UPSTREAM_ERROR', upstream: { status: 503, attempts: 1 } });
    expect(sim.requests.map((r) => r.method)).toEqual(['POST']);
  });

  it('429 is RATE_LIMITED with retryAfter', async () => {
    sim.inject(faults.rateLimited(120, { times: 5 }));
    const res = await gw.gql(UPDATE, { provider: 'acme', id: 'k_1', patch: { name: 'z' } });
    expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', upstream: { status: 429, retryAfter: 120 } });
  });

  it('refuses unsupported fields and local limits before sending anything', async () => {
    const roles = await gw.gql(UPDATE, { provider: 'acme', id: 'k_1', patch: { roles: ['admin'] } });
    expect(roles.body.errors?.[0].extensions.code).toBe('UNSUPPORTED_FIELD');
    const long = await gw.gql(UPDATE, { provider: 'acme', id: 'k_1', patch: { name: 'n'.repeat(101), setTags: [{ key: 'Bad Key', value: 'v' }] } });
    expect(long.body.errors?.[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(long.body.errors?.[0].message).toContain('patch.name must be at most 100 characters');
    expect(long.body.errors?.[0].message).toContain('patch.setTags[0].key must match');
    expect(sim.requests).toHaveLength(0);
  });

  it('reads one key and lists every page through the cursor', async () => {
    const res = await gw.gql(`{
      one: apiKey(provider: "acme", id: "k_2") { id name enabled tags { key value } raw }
      all: apiKeys(provider: "acme", first: 10) { edges { node { id name } } pageInfo { hasNextPage } }
    }`);
    expect(res.body.errors).toBeUndefined();
    expect(res.body.data?.one).toMatchObject({ id: 'k_2', name: 'Old', enabled: true, tags: [{ key: 'env', value: 'prod' }], raw: { secret: '[redacted]' } });
    expect(res.body.data?.all.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual(['k_1', 'k_2', 'k/3', 'k_4', 'k_5']);
    const lists = sim.requests.filter((r) => r.path === '/orgs/acme-corp/keys');
    expect(lists.map((r) => r.query)).toEqual([{ per_page: '50' }]);
  });

  it('previews the exact request with credentials redacted', async () => {
    const res = await gw.gql('{ previewApiKeyUpdate(provider: "acme", id: "k_1", patch: { name: "p" }) { requests { method url headers body } } }');
    expect(res.body.errors).toBeUndefined();
    const [read, update] = [undefined, res.body.data?.previewApiKeyUpdate.requests.at(-1)];
    expect(read).toBeUndefined();
    expect(update).toMatchObject({ method: 'PATCH', url: `${sim.origin}/orgs/acme-corp/keys/k_1`, body: { label: 'p' } });
    expect(update.headers['x-acme-token']).toBe('[redacted]');
    expect(sim.writes()).toHaveLength(0);
  });

  it('lists the provider with its operations and patch fields', async () => {
    const res = await gw.gql('{ providers { name kind operations patchFields } }');
    expect(res.body.data?.providers).toContainEqual({
      name: 'acme',
      kind: 'HTTP',
      operations: ['read', 'list', 'update', 'preview'],
      patchFields: ['name', 'enabled', 'expiresAt', 'setTags', 'removeTags'],
    });
  });
});

describe('kind: http — start-up checks name the config path', () => {
  const base = () => docsExample({ ACME_URL: 'http://127.0.0.1:9', ACME_TOKEN: TOKEN });
  const problems = (mutate: (acme: Record<string, any>) => void): string[] => {
    const doc = base();
    mutate(doc.providers.acme);
    try {
      resolveConfig({ ...doc, audit: false });
      return [];
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      return err.problems;
    }
  };

  it('accepts the docs example as written', () => {
    expect(problems(() => {})).toEqual([]);
  });

  it('an unknown filter, root or bad path stops start-up with its path', () => {
    expect(problems((a) => (a.update.body.label = '{{ patch.name | upper }}'))).toEqual([
      expect.stringMatching(/^providers\.acme\.update\.body\.label: unknown filter "upper"/),
    ]);
    expect(problems((a) => (a.update.body.label = '{{ process.env.HOME }}'))).toEqual([
      expect.stringMatching(/^providers\.acme\.update\.body\.label: "process" is not available here \(available: patch, id, config, current\)/),
    ]);
    expect(problems((a) => (a.key.name = '{{ key..label }}'))).toEqual([expect.stringMatching(/^providers\.acme\.key\.name: "key\.\.label" is not a path/)]);
    expect(problems((a) => (a.update.path = '/orgs/{{ config.org }/keys'))).toEqual([expect.stringMatching(/^providers\.acme\.update\.path: /)]);
  });

  it('unknown fields, bad limits, patch fields and auth are refused with their paths', () => {
    expect(problems((a) => (a.update.verb = 'PATCH'))).toEqual(['providers.acme.update: unknown field(s) verb']);
    expect(problems((a) => (a.patch.tyk = {}))).toEqual([expect.stringMatching(/^providers\.acme\.patch\.tyk: is not a patch field here/)]);
    expect(problems((a) => (a.patch.name.pattern = '(['))).toEqual([
      expect.stringMatching(/^providers\.acme\.patch\.name\.pattern: is not a valid regular expression/),
    ]);
    expect(problems((a) => (a.auth = { type: 'oauth' }))).toEqual([expect.stringMatching(/^providers\.acme\.auth\.type: /)]);
    expect(problems((a) => (a.errors.codes.key_locked = 'TEAPOT'))).toEqual([expect.stringMatching(/^providers\.acme\.errors\.codes\.key_locked: /)]);
    expect(
      problems((a) => {
        a.readBeforeWrite = true;
        delete a.read;
      }),
    ).toEqual([expect.stringMatching(/^providers\.acme\.readBeforeWrite: needs a `read` request/)]);
    expect(problems((a) => (a.credentials.kind = 'x'))).toEqual([expect.stringMatching(/^providers\.acme\.credentials\.kind: is a connection field name/)]);
  });

  it('credentials are secrets and never printed', () => {
    const config = resolveConfig({ ...base(), audit: false });
    expect(config.secrets).toContain(TOKEN);
    expect(config.providers.get('acme')?.settings).toMatchObject({ org: 'acme-corp', token: TOKEN });
    const printed = JSON.stringify(describeConfig(config));
    expect(printed).not.toContain(TOKEN);
    expect(describeConfig(config).providers).toMatchObject({ acme: { kind: 'http', org: 'acme-corp', token: '[redacted]' } });
  });

  it('a template too deep is refused at start-up (evaluation is bounded)', () => {
    let deep: unknown = '{{ patch.name }}';
    for (let i = 0; i < 20; i++) deep = { a: deep };
    expect(problems((a) => (a.update.body = deep))[0]).toMatch(/^providers\.acme\.update\.body(\.a)+: nests deeper than 16 levels/);
  });
});

describe('kind: http — OAuth 2.0 client credentials', () => {
  const CLIENT_ID = 'acme_client_7f8e';
  const CLIENT_SECRET = 'acme_client_secret_9a8b7c6d';
  registerSecret(CLIENT_SECRET);
  /** The docs example with its auth replaced by client credentials (a token from `tokenUrl`, sent as Bearer). */
  const oauthConnection = (origin: string, clientSecret: string) => {
    const { credentials: _c, ...acme } = docsExample({ ACME_URL: origin, ACME_TOKEN: TOKEN }).providers.acme;
    return {
      ...acme,
      params: { org: 'acme-corp', tokenUrl: `${origin}/oauth/token` },
      credentials: { clientId: CLIENT_ID, clientSecret },
      auth: {
        type: 'oauth-client-credentials',
        tokenUrl: '{{ config.tokenUrl }}',
        clientId: '{{ config.clientId }}',
        clientSecret: '{{ config.clientSecret }}',
      },
    };
  };

  it('fetches one token, sends it as Bearer on every call, and redacts it in previews', async () => {
    const vendor = await createFakeAcme('acme-corp', TOKEN, [acmeKey('k_1', 'CI')], { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const g = await startGateway({ providers: { acme: oauthConnection(vendor.origin, CLIENT_SECRET) }, audit: false });
    try {
      for (const name of ['first', 'second']) {
        const res = await g.gql(UPDATE, { provider: 'acme', id: 'k_1', patch: { name } });
        expect(res.body.errors).toBeUndefined();
        expect(res.body.data?.updateApiKey).toMatchObject({ kind: 'HTTP', id: 'k_1', name });
      }
      registerSecret(...vendor.issued);
      // One token request, then the token on both PATCHes.
      expect(vendor.issued).toEqual(['acme_oauth_token_1']);
      expect(vendor.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
        'POST /oauth/token',
        'PATCH /orgs/acme-corp/keys/k_1',
        'PATCH /orgs/acme-corp/keys/k_1',
      ]);
      expect(vendor.keys.get('k_1')?.label).toBe('second');
      const preview = await g.gql('{ previewApiKeyUpdate(provider: "acme", id: "k_1", patch: { name: "p" }) { requests { headers } } }');
      expect(preview.body.data?.previewApiKeyUpdate.requests[0].headers).toMatchObject({ authorization: 'Bearer [redacted]' });
    } finally {
      await g.close();
      await vendor.close();
    }
  });

  it('a refused token request is UNAUTHENTICATED and the API receives nothing', async () => {
    const vendor = await createFakeAcme('acme-corp', TOKEN, [acmeKey('k_1', 'CI')], { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
    const g = await startGateway({ providers: { acme: oauthConnection(vendor.origin, 'acme_wrong_client_secret_00') }, audit: false });
    try {
      const res = await g.gql(UPDATE, { provider: 'acme', id: 'k_1', patch: { name: 'x' } });
      expect(res.body.errors?.[0].extensions).toMatchObject({ code: 'UNAUTHENTICATED', provider: 'acme' });
      expect(vendor.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['POST /oauth/token']);
      expect(vendor.keys.get('k_1')?.label).toBe('CI');
    } finally {
      await g.close();
      await vendor.close();
    }
  });

  it('a token URL that is not an absolute http(s) URL stops start-up with its path', () => {
    const connection = oauthConnection('http://127.0.0.1:9', CLIENT_SECRET);
    expect(() => resolveConfig({ providers: { acme: { ...connection, params: { org: 'acme-corp', tokenUrl: '/oauth/token' } } }, audit: false })).toThrow(
      /providers\.acme\.auth\.tokenUrl: must be an absolute http\(s\) URL/,
    );
  });
});

describe('kind: http — reload', () => {
  it('a reload recompiles the definition; one with a template error keeps serving the previous one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keygate-http-reload-'));
    const file = join(dir, 'keygate.yaml');
    const yaml = `${docsYaml({ ACME_URL: sim.origin, ACME_TOKEN: TOKEN })}audit: false\n`;
    writeFileSync(file, yaml);
    const keygate = await startKeygate({ config: loadConfigFile(file), port: 0, configPath: file });
    const rename = async () => {
      const res = await fetch(keygate.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: 'mutation { updateApiKey(provider: "acme", id: "k_2", patch: { name: "reloaded" }) { id } }' }),
      });
      recordSeen(await res.text());
      return sim.requests.at(-1)?.path;
    };
    try {
      expect(await rename()).toBe('/orgs/acme-corp/keys/k_2');
      writeFileSync(file, yaml.replace('label: "{{ patch.name }}"', 'label: "{{ patch.name | upper }}"'));
      expect(await keygate.reload()).toBe(false);
      expect(await rename()).toBe('/orgs/acme-corp/keys/k_2');
      writeFileSync(file, yaml.replace('org: acme-corp', 'org: other-org'));
      expect(await keygate.reload()).toBe(true);
      expect(await rename()).toBe('/orgs/other-org/keys/k_2');
    } finally {
      await keygate.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/**
 * Issue 18: the keys console in a real browser — Debian's chromium driven by playwright-core —
 * against the sandbox (no auth) and a config-mode keygate with caller tokens. Every step waits for
 * a locator or a condition, never for time. Screenshots go to test-results/console/.
 */
import { AxeBuilder } from '@axe-core/playwright';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BuiltinKind } from '../providers/types.ts';
import { Writable } from 'node:stream';
import { createLogger } from '../src/observability/log.ts';
import { startSandbox, type RunningSandbox } from '../sandbox/start.ts';
import { startKeygate, type RunningKeygate } from '../src/app.ts';
import { recordSeen, registerSecret, startGateway, type TestGateway } from './harness.ts';
import { fingerprintKeyId } from '../src/core/key-ids.ts';

const CHROMIUM = process.env.KEYGATE_CHROMIUM ?? '/usr/bin/chromium';
const SHOTS = new URL('../test-results/console/', import.meta.url).pathname;
const ROOT = new URL('..', import.meta.url).pathname;

let sandbox: RunningSandbox;
let keygate: RunningKeygate;
let browser: BrowserContext;
let profile: string;
let origin: string;

beforeAll(async () => {
  // `npm install` builds the console (prepare); a tree where it was never built gets it built here.
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install -y chromium (Debian's package), or set KEYGATE_CHROMIUM`);
  if (!existsSync(join(ROOT, 'console/dist/index.html'))) execFileSync('npm', ['run', 'build:console'], { cwd: ROOT, stdio: 'ignore' });
  mkdirSync(SHOTS, { recursive: true });
  // As `npm start` runs it: the sandbox, and its demo key ids suggested by the console.
  sandbox = await startSandbox();
  registerSecret(...sandbox.config.secrets);
  const destination = new Writable({
    write: (chunk, _enc, cb) => {
      recordSeen(chunk.toString());
      cb();
    },
  });
  keygate = await startKeygate({
    config: sandbox.config,
    port: 0,
    log: createLogger({ destination }),
    consoleKeyHints: Object.fromEntries([...sandbox.sandboxes].map(([kind, s]) => [kind, s.demoKeyIds])),
  });
  origin = new URL(keygate.url).origin;
  profile = mkdtempSync(join(tmpdir(), 'keygate-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 800 },
  });
  browser.setDefaultTimeout(15_000);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await keygate?.close();
  await sandbox?.close();
});

/** A fresh tab (its own sessionStorage) that fails the test on any page error or CSP violation. */
async function openPage(path: string, at = origin): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${at}${path}`);
  return { page, problems };
}

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** No serious or critical axe violation (WCAG 2.1 A and AA rules). */
async function expectAccessible(page: Page, what: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    bad.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`),
    what,
  ).toEqual([]);
}

function sim(kind: BuiltinKind) {
  return sandbox.sandboxes.get(kind)!;
}

async function injectFault(kind: BuiltinKind, fault: object): Promise<void> {
  const res = await fetch(`${sim(kind).simulator.origin}/__sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(fault),
  });
  expect(res.status).toBe(204);
}

async function graphql(query: string, variables: Record<string, unknown> = {}): Promise<any> {
  const res = await fetch(keygate.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query, variables }) });
  const text = await res.text();
  recordSeen(text);
  return JSON.parse(text);
}

describe('console assets', () => {
  it('serves the app with a strict CSP, no-referrer, right content types and deep links; nothing else', async () => {
    for (const path of ['/console', '/console/', '/console/providers/tyk/keys/some%20id', '/console/audit?provider=tyk']) {
      const res = await fetch(`${origin}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
      expect(res.headers.get('referrer-policy')).toBe('no-referrer');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const html = await res.text();
      // No inline script: every <script> has a src on keygate itself.
      expect(html).not.toMatch(/<script(?![^>]*\ssrc="\/console\/)[^>]*>/);
      expect(html).not.toMatch(/(src|href)="https?:/);
    }
    const html = await (await fetch(`${origin}/console/`)).text();
    const js = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)![1];
    const css = /href="(\/console\/assets\/[^"]+\.css)"/.exec(html)![1];
    const script = await fetch(`${origin}${js}`, { headers: { 'accept-encoding': 'gzip' } });
    expect(script.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(script.headers.get('cache-control')).toContain('immutable');
    expect((await fetch(`${origin}${css}`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect((await fetch(`${origin}/console/assets/missing.js`)).status).toBe(404);
    expect((await fetch(`${origin}/console/`, { method: 'POST', body: '{}' })).status).toBe(405);
  });
});

describe('keys console in chromium (sandbox)', { timeout: 60_000 }, () => {
  it('lists every provider with its operations, patch fields and breaker state; accessible', async () => {
    const { page, problems } = await openPage('/console');
    const table = page.getByRole('table');
    for (const kind of sandbox.sandboxes.keys()) await expect.poll(() => table.getByRole('link', { name: kind, exact: true }).count()).toBe(1);
    expect(await page.getByTestId('viewer-name').textContent()).toBe('anonymous@loopback');
    expect(await table.getByText('CLOSED').count()).toBe(sandbox.sandboxes.size);
    await shot(page, 'providers');
    await expectAccessible(page, 'providers');
    expect(problems).toEqual([]);
    await page.close();
  });

  const edits: { kind: BuiltinKind; open: 'list' | 'lookup' | 'demo key link'; edit(page: Page): Promise<void>; sent: string }[] = [
    {
      kind: 'mesa',
      open: 'list',
      edit: async (page) => {
        await page.getByLabel('Tag key').fill('owner');
        await page.getByLabel('Tag value').fill('console-owner');
        await page.getByRole('button', { name: 'Add tag' }).click();
      },
      sent: '"owner":"console-owner"',
    },
    { kind: 'basic', open: 'lookup', edit: (page) => page.getByLabel('Name').fill('Basic via console'), sent: '"label":"Basic via console"' },
    { kind: 'atlas', open: 'list', edit: (page) => page.getByLabel('Name').fill('Atlas via console'), sent: '"desc":"Atlas via console"' },
    {
      kind: 'tyk',
      open: 'list',
      edit: async (page) => {
        await page.getByLabel('Name').fill('Tyk via console');
        await page.getByRole('switch', { name: 'Enabled' }).click();
      },
      sent: '"is_inactive":true',
    },
    { kind: 'plumaa', open: 'demo key link', edit: (page) => page.getByLabel('Name').fill('Plumaa via console'), sent: '"name":"Plumaa via console"' },
    { kind: 'sendgrid', open: 'list', edit: (page) => page.getByLabel('Name').fill('SendGrid via console'), sent: '"name":"SendGrid via console"' },
    { kind: 'datadog', open: 'lookup', edit: (page) => page.getByLabel('Name').fill('Datadog via console'), sent: '"name":"Datadog via console"' },
    {
      kind: 'confluent',
      open: 'list',
      edit: (page) => page.getByLabel('Confluent fields (JSON)').fill('{"description": "via console"}'),
      sent: '"description":"via console"',
    },
    {
      kind: 'cloudflare',
      open: 'list',
      edit: async (page) => {
        await page.getByRole('switch', { name: 'Enabled' }).click();
        await page.getByLabel('Cloudflare token fields (JSON)').fill('{"condition": {"request_ip": {"in": ["198.51.100.0/24"]}}}');
      },
      sent: '"status":"disabled"',
    },
    {
      kind: 'algolia',
      open: 'list',
      edit: (page) => page.getByLabel('Algolia key attributes (JSON)').fill('{"maxHitsPerQuery": 42}'),
      sent: '"maxHitsPerQuery":42',
    },
  ];

  it.each(edits)('$kind: finds a key ($open), reviews and applies a change the simulator receives', async ({ kind, open, edit, sent }) => {
    const id = sim(kind).demoKeyIds[0];
    const { page, problems } = await openPage('/console');
    await page.getByRole('link', { name: kind, exact: true }).click();
    await page.getByRole('heading', { name: `Keys at ${kind}` }).waitFor();
    if (open === 'list') {
      await page.getByRole('table').getByRole('link', { name: id, exact: true }).click();
    } else if (open === 'demo key link') {
      await page.getByRole('search').getByRole('link', { name: id, exact: true }).click();
    } else {
      // By keyboard: the field, the id, Enter.
      await page.locator('#lookup-id').focus();
      await page.keyboard.type(id);
      await page.keyboard.press('Enter');
    }
    await page.getByRole('heading', { name: 'Change this key' }).waitFor();
    expect(page.url()).toBe(`${origin}/console/providers/${kind}/keys/${id}`);
    const writesBefore = sim(kind).simulator.writes().length;
    await edit(page);
    await page.getByRole('button', { name: 'Review', exact: true }).click();
    const preview = page.getByRole('region', { name: 'Review: what keygate would send' });
    await preview.waitFor();
    // The exact request: method and the simulator's URL; nothing was written by the review.
    expect(await preview.locator('.url').first().textContent()).toContain(sim(kind).simulator.origin);
    expect(sim(kind).simulator.writes().length).toBe(writesBefore);
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    await page.getByText('Applied:').waitFor();
    const writes = sim(kind).simulator.writes();
    expect(writes.length).toBe(writesBefore + 1);
    expect(JSON.stringify(writes.at(-1)!.body) + JSON.stringify(writes.at(-1)!.query)).toContain(sent);
    recordSeen(await page.content());
    await shot(page, `key-${kind}`);
    if (kind === 'tyk') await expectAccessible(page, 'key page');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('deep links open a key directly; a vendor fault shows its code, message and upstream details', async () => {
    const id = sim('basic').demoKeyIds[1];
    const { page, problems } = await openPage(`/console/providers/basic/keys/${id}`);
    await page.getByRole('heading', { name: 'Change this key' }).waitFor();
    await page.getByLabel('Name').fill('never applied');
    await page.getByRole('button', { name: 'Review', exact: true }).click();
    await page.getByRole('region', { name: 'Review: what keygate would send' }).waitFor();
    await injectFault('basic', { method: 'PATCH', response: { status: 409, json: { error: 'conflict', message: 'key is being rotated' } } });
    const writes = sim('basic').simulator.writes().length;
    await page.getByRole('button', { name: 'Apply', exact: true }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('CONFLICT');
    expect(await alert.textContent()).toContain('key is being rotated');
    expect(sim('basic').simulator.writes().length).toBe(writes);
    await shot(page, 'vendor-fault');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows empty and not-found states, never a blank page', async () => {
    const { page, problems } = await openPage('/console/providers/nope');
    await page.getByText('No provider connection named “nope” is visible to you.').waitFor();
    await page.goto(`${origin}/console/providers/atlas/keys/5c47ba5127d9d61b9fd8a999`);
    await page.getByText('atlas says there is no key “5c47ba5127d9d61b9fd8a999”.').waitFor();
    expect(await page.getByRole('heading', { name: 'Change this key' }).count()).toBe(0);
    await page.goto(`${origin}/console/no/such/page`);
    await page.getByRole('heading', { name: 'Not found' }).waitFor();
    await page.goto(`${origin}/console/audit?provider=tyk&keyId=no-such-key`);
    await page.getByText('No audit entry matches these filters.').waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('bulk: keys from two providers, one patch, previews, and per-item results with one failing item', async () => {
    const atlasId = sim('atlas').demoKeyIds[1];
    const tykId = sim('tyk').demoKeyIds[1];
    const { page, problems } = await openPage('/console/providers/atlas');
    await page.getByRole('checkbox', { name: `Select ${atlasId} for bulk` }).check();
    await page.getByRole('link', { name: 'Providers' }).first().click();
    await page.getByRole('link', { name: 'tyk', exact: true }).click();
    await page.getByRole('checkbox', { name: `Select ${tykId} for bulk` }).check();
    await page.getByRole('link', { name: 'Bulk (2)' }).click();
    await page.getByLabel('Name').fill('bulk renamed');
    await page.getByRole('button', { name: 'Review all' }).click();
    const row = (provider: string, id: string) => page.locator(`tr[data-item="${provider}/${id}"]`);
    // Tyk's update reads the session first, then PUTs it whole.
    await expect.poll(() => row('tyk', tykId).textContent()).toMatch(/would send GET \S+ · PUT http/);
    expect(await row('atlas', atlasId).textContent()).toContain('would send PATCH http');
    await injectFault('atlas', { method: 'PATCH', response: { status: 409, json: { error: 409, errorCode: 'CONFLICT', detail: 'busy' } } });
    await page.getByRole('button', { name: 'Apply to 2' }).click();
    await expect.poll(() => row('tyk', tykId).textContent()).toContain('updated');
    expect(await row('atlas', atlasId).textContent()).toContain('CONFLICT');
    expect(JSON.stringify(sim('tyk').simulator.writes().at(-1)!.body)).toContain('"alias":"bulk renamed"');
    expect(
      sim('atlas')
        .simulator.writes()
        .some((w) => JSON.stringify(w.body).includes('bulk renamed')),
    ).toBe(false);
    await shot(page, 'bulk');
    await expectAccessible(page, 'bulk');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('audit: filtered by provider and outcome, with links to keys (a Tyk key id shows as its fingerprint)', async () => {
    // Its own entries: an update that succeeds at tyk and one refused by Mesa (an injected 409).
    const tykId = sim('tyk').demoKeyIds[0];
    const ok = await graphql('mutation($id: ID!) { updateApiKey(provider: "tyk", id: $id, patch: { name: "audited" }) { name } }', { id: tykId });
    expect(ok.errors).toBeUndefined();
    await injectFault('mesa', { method: 'PATCH', response: { status: 409, json: { error: 'conflict' } } });
    const refused = await graphql('mutation($id: ID!) { updateApiKey(provider: "mesa", id: $id, patch: { removeTags: ["gone"] }) { id } }', {
      id: sim('mesa').demoKeyIds[0],
    });
    expect(refused.errors[0].extensions.code).toBe('CONFLICT');

    const { page, problems } = await openPage('/console/audit');
    await page.getByRole('table').waitFor();
    await page.getByLabel('Provider').selectOption('tyk');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('provider')).toBe('tyk');
    const rows = page.getByRole('table').locator('tbody tr');
    const all =
      (...words: string[]) =>
      async () => {
        const texts = await rows.allTextContents();
        return texts.length > 0 && texts.every((t) => words.every((w) => t.includes(w))) ? texts.length : 0;
      };
    await expect.poll(all('tyk')).toBeGreaterThan(0);
    // A Tyk key id is the live key: the audit log keeps its fingerprint, shown without a link.
    await page
      .getByRole('cell', { name: fingerprintKeyId(tykId), exact: true })
      .first()
      .waitFor();
    expect(await page.getByRole('link', { name: tykId, exact: true }).count()).toBe(0);
    await page.getByLabel('Provider').selectOption('mesa');
    await page.getByLabel(/^Outcome/).fill('CONFLICT');
    await page.getByRole('button', { name: 'Filter' }).click();
    await expect.poll(all('mesa', 'CONFLICT')).toBeGreaterThan(0);
    await page
      .getByRole('link', { name: sim('mesa').demoKeyIds[0], exact: true })
      .first()
      .waitFor();
    expect(new URL(page.url()).searchParams.get('outcome')).toBe('CONFLICT');
    await shot(page, 'audit');
    await expectAccessible(page, 'audit');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a vendor string that looks like HTML renders as text', async () => {
    // Atlas lists names (Tyk's Dashboard API lists ids only).
    const id = sim('atlas').demoKeyIds[1];
    const name = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    const set = await graphql('mutation($id: ID!, $name: String!) { updateApiKey(provider: "atlas", id: $id, patch: { name: $name }) { name } }', { id, name });
    expect(set.data.updateApiKey.name).toBe(name);
    const { page, problems } = await openPage('/console/providers/atlas');
    await page.getByRole('cell', { name, exact: true }).waitFor();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    await shot(page, 'keys-atlas');
    await expectAccessible(page, 'keys list');
    await page.getByRole('table').getByRole('link', { name: id, exact: true }).click();
    await page.getByRole('heading', { name: 'Change this key' }).waitFor();
    expect(await page.locator('img[src="x"]').count()).toBe(0);
    expect(await page.getByLabel('Name').inputValue()).toBe(name);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('is usable on a narrow window: no sideways scrolling of the page', async () => {
    const { page, problems } = await openPage(`/console/providers/tyk/keys/${sim('tyk').demoKeyIds[0]}`);
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('heading', { name: 'Change this key' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(page, 'narrow-key');
    await page.getByRole('link', { name: 'Audit' }).click();
    await page.getByRole('table').waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});

describe('keys console in chromium (config mode, caller tokens)', { timeout: 60_000 }, () => {
  const ADMIN = 'console-admin-token-0123456789';
  const READER = 'console-reader-token-0123456789';
  let withAuth: TestGateway;
  let at: string;

  beforeAll(async () => {
    // Registered for the suite's secret scan: the tokens must never reach a log line or a response.
    registerSecret(ADMIN, READER);
    withAuth = await startGateway({
      providers: Object.fromEntries([...sandbox.sandboxes].map(([kind, s]) => [kind, { kind, ...s.connection }])),
      auth: {
        tokens: [
          { name: 'admin', token: ADMIN, scopes: ['keys:read', 'keys:write', 'audit:read'] },
          { name: 'reader', token: READER, scopes: ['keys:read'] },
        ],
      },
      server: { console: true },
    });
    at = new URL(withAuth.url).origin;
  });
  afterAll(async () => {
    await withAuth?.close();
  });

  const signIn = async (page: Page, token: string) => {
    await page.getByLabel('Bearer token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
  };

  it('asks for a token, refuses a wrong one, and keeps the token out of URLs and localStorage', async () => {
    const { page, problems } = await openPage('/console', at);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await expectAccessible(page, 'sign-in');
    await shot(page, 'sign-in');
    await signIn(page, 'not-a-valid-token-at-all');
    await page.getByText('Not signed in').waitFor();
    expect(await page.getByRole('alert').textContent()).toContain('UNAUTHENTICATED');
    await signIn(page, ADMIN);
    await page.getByTestId('viewer-name').waitFor();
    expect(await page.getByTestId('viewer-name').textContent()).toBe('token:admin');
    expect(page.url()).not.toContain(ADMIN);
    expect(await page.evaluate(() => JSON.stringify(localStorage))).toBe('{}');
    expect(await page.evaluate(() => sessionStorage.getItem('keygate.token'))).toBe(ADMIN);
    await page.getByRole('link', { name: 'tyk', exact: true }).click();
    await page.getByRole('link', { name: sim('tyk').demoKeyIds[0], exact: true }).click();
    await page.getByRole('button', { name: 'Review', exact: true }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('keygate.token'))).toBeNull();
    // Only the 401 of the first, token-less call and of the wrong token may be logged by the browser.
    expect(problems).toEqual([]);
    await page.close();
  });

  it('a read-only token sees keys but no edit, bulk or audit controls', async () => {
    const { page, problems } = await openPage('/console', at);
    await signIn(page, READER);
    await page.getByTestId('viewer-name').waitFor();
    expect(await page.getByTestId('viewer-scopes').textContent()).toBe('keys:read:*');
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Providers']);
    await page.getByRole('link', { name: 'tyk', exact: true }).click();
    const id = sim('tyk').demoKeyIds[0];
    await page.getByRole('link', { name: id, exact: true }).waitFor();
    expect(await page.getByRole('checkbox').count()).toBe(0);
    expect(await page.getByRole('link', { name: /^History of/ }).count()).toBe(0);
    await page.getByRole('link', { name: id, exact: true }).click();
    await page.getByRole('heading', { name: 'Now' }).waitFor();
    expect(await page.getByRole('heading', { name: 'Change this key' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Review' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Apply' }).count()).toBe(0);
    await shot(page, 'read-only-key');
    expect(problems).toEqual([]);
    await page.close();
  });
});

/**
 * Test harness: keygate over real loopback HTTP, pointed at simulators.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { startSandbox, type RunningSandbox } from '../sandbox/start.ts';
import { appendFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { resolveConfig } from '../src/config/schema.ts';
import { createLogger } from '../src/observability/log.ts';
import { startKeygate, type RunningKeygate } from '../src/app.ts';
import type { Clock } from '../src/core/clock.ts';
import { until } from './until.ts';

export interface GraphQLResult<T = Record<string, any>> {
  status: number;
  headers: Headers;
  body: { data?: T | null; errors?: Array<{ message: string; path?: string[]; extensions: Record<string, any> }> };
  text: string;
}

export interface TestGateway {
  url: string;
  keygate: RunningKeygate;
  /** Every log line keygate wrote, for assertions and the secret scan. */
  logs: string[];
  /** The SQLite audit file (unless the config set `audit`). */
  auditPath?: string;
  gql<T = Record<string, any>, V = Record<string, unknown>>(
    query: string | TypedDocumentNode<T, V>,
    variables?: V | Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GraphQLResult<T>>;
  /** `gql` with `Authorization: Bearer <token>`. */
  as(token: string): TestGateway['gql'];
  /** Any HTTP request to keygate (path relative to its origin); the answer is recorded for the secret scan. */
  fetch(path: string, init?: RequestInit): Promise<{ status: number; headers: Headers; text: string }>;
  close(): Promise<void>;
}

/** A config document as tests write it: `providers` plus any other section. */
export interface TestConfigDoc {
  providers: Record<string, Record<string, unknown>>;
  [section: string]: unknown;
}

/**
 * Every response text and log line of the whole suite goes to a scan folder, with every secret
 * in play; test/global-setup.ts scans it once all tests ran and fails the run on any leak.
 */
const SCAN_DIR = process.env.KEYGATE_SCAN_DIR;
const scanFile = SCAN_DIR ? join(SCAN_DIR, `seen-${process.pid}-${Math.random().toString(36).slice(2)}.txt`) : undefined;
const secretsFile = SCAN_DIR ? join(SCAN_DIR, `secrets-${process.pid}-${Math.random().toString(36).slice(2)}.txt`) : undefined;
if (SCAN_DIR) mkdirSync(SCAN_DIR, { recursive: true });

export function recordSeen(text: string): void {
  if (scanFile) appendFileSync(scanFile, `${text}\n`);
}

/** Registers a value that must never appear in any response or log line (credentials, vendor secrets). */
export function registerSecret(...values: string[]): void {
  if (secretsFile) for (const v of values) appendFileSync(secretsFile, `${JSON.stringify(v)}\n`);
}

/**
 * keygate on 127.0.0.1, port 0. Without `auth` in the doc it is open on loopback, as in production;
 * without `audit` it records into a throw-away SQLite file (removed on close). `clock` drives its
 * deadlines, waits and breaker cooldowns (test/fake-clock.ts `skippableClock`).
 */
export async function startGateway(configDoc: TestConfigDoc, options: { clock?: Clock } = {}): Promise<TestGateway> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      const line = chunk.toString();
      logs.push(line);
      recordSeen(line);
      cb();
    },
  });
  const dir = 'audit' in configDoc ? undefined : mkdtempSync(join(tmpdir(), 'keygate-test-audit-'));
  const auditPath = dir && join(dir, 'audit.db');
  const config = resolveConfig(dir ? { ...configDoc, audit: { sqlite: auditPath } } : configDoc);
  registerSecret(...config.secrets);
  const keygate = await startKeygate({
    config,
    port: 0,
    log: createLogger({ level: 'debug', destination }),
    clock: options.clock,
  });
  const origin = new URL(keygate.url).origin;
  const gw: TestGateway = {
    url: keygate.url,
    keygate,
    logs,
    auditPath,
    async gql(query, variables, headers) {
      const res = await fetch(keygate.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
        body: JSON.stringify({ query: typeof query === 'string' ? query : print(query), variables }),
      });
      const text = await res.text();
      recordSeen(text);
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
    },
    as: (token) => (query, variables, headers) => gw.gql(query, variables, { authorization: `Bearer ${token}`, ...headers }),
    async fetch(path, init) {
      const res = await fetch(`${origin}${path}`, init);
      const text = await res.text();
      recordSeen(text);
      recordSeen(JSON.stringify([...res.headers]));
      return { status: res.status, headers: res.headers, text };
    },
    close: async () => {
      await keygate.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
  return gw;
}

export { until } from './until.ts';

/** The typed documents generated by `npm run codegen` from test/operations.graphql. */
export { UpdateApiKeyDocument as UPDATE, ProvidersDocument as PROVIDERS } from './gql/graphql.ts';

/** Runs the keygate CLI (or any Node script) to its exit; its output is recorded for the secret scan. */
export function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      recordSeen(out);
      resolve({ code, out });
    });
  });
}

/** Sandbox mode as `npm start` runs it (simulators + keygate on a free port), for tests. */
export async function startSandboxGateway(): Promise<{ sandbox: RunningSandbox; keygate: RunningKeygate; close(): Promise<void> }> {
  const sandbox = await startSandbox();
  registerSecret(...sandbox.config.secrets);
  const keygate = await startKeygate({ config: sandbox.config, port: 0 });
  return {
    sandbox,
    keygate,
    close: async () => {
      await keygate.close();
      await sandbox.close();
    },
  };
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Stops it (SIGTERM) and waits for its exit; its output is recorded for the secret scan. */
  stop(): Promise<number | null>;
}

/** keygate as a real process (`src/main.ts --config file`), so a crash is a crash; resolves once it listens. */
export async function startGatewayChild(configFile: string): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['src/main.ts', '--config', configFile, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const listening = () => /keygate listening on (http:\/\/\S+)/.exec(out);
  try {
    await until(() => listening() !== null || child.exitCode !== null, { timeoutMs: 15_000, what: 'keygate to listen' });
  } catch {
    // Reported below with its output.
  }
  const m = listening();
  if (!m) {
    child.kill('SIGKILL');
    recordSeen(out);
    throw new Error(`keygate (${configFile}) did not start:\n${out}`);
  }
  return {
    url: m[1],
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const code = await exited;
      recordSeen(out);
      return code;
    },
  };
}

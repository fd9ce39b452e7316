/**
 * Test harness: keygate over real loopback HTTP, pointed at simulators.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { resolveConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startKeygate, type RunningKeygate } from '../src/server.ts';

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
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, headers?: Record<string, string>): Promise<GraphQLResult<T>>;
  close(): Promise<void>;
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

export async function startGateway(configDoc: { providers: Record<string, Record<string, unknown>> }): Promise<TestGateway> {
  const logs: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      const line = chunk.toString();
      logs.push(line);
      recordSeen(line);
      cb();
    },
  });
  const config = resolveConfig(configDoc);
  registerSecret(...config.secrets);
  const keygate = await startKeygate({
    config,
    port: 0,
    log: createLogger({ level: 'debug', destination }),
  });
  return {
    url: keygate.url,
    keygate,
    logs,
    async gql(query, variables, headers) {
      const res = await fetch(keygate.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...headers },
        body: JSON.stringify({ query, variables }),
      });
      const text = await res.text();
      recordSeen(text);
      return { status: res.status, headers: res.headers, body: JSON.parse(text), text };
    },
    close: () => keygate.close(),
  };
}

export const UPDATE = /* GraphQL */ `
  mutation Update($provider: String!, $id: ID!, $patch: ApiKeyPatch!) {
    updateApiKey(provider: $provider, id: $id, patch: $patch) {
      provider kind id name enabled roles tags { key value } expiresAt updatedAt raw
    }
  }
`;

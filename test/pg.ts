/**
 * The real PostgreSQL the tests use: 127.0.0.1:5432, trust auth, database `test` (`.ci/run` starts
 * it when it is not running). KEYGATE_TEST_DATABASE_URL overrides. Each test file works in schemas
 * of its own (`uniqueSchema`), dropped afterwards, so files running in parallel never collide.
 * The database is never mocked.
 */
import { userInfo } from 'node:os';
import { Client, escapeIdentifier } from 'pg';

let found: Promise<string> | undefined;

/** A URL that connects, trying the override, then the users `postgres` and the OS user. */
export function testDatabaseUrl(): Promise<string> {
  found ??= (async () => {
    const candidates = [
      process.env.KEYGATE_TEST_DATABASE_URL,
      'postgres://postgres@127.0.0.1:5432/test',
      `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`,
    ].filter((u): u is string => Boolean(u));
    const problems: string[] = [];
    for (const url of candidates) {
      const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
        return url;
      } catch (err) {
        problems.push(`${url.replace(/:[^:@/]*@/, ':***@')}: ${(err as Error).message}`);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    throw new Error(`no PostgreSQL for the tests (start it: see .ci/run):\n  ${problems.join('\n  ')}`);
  })();
  return found;
}

/** A schema name no other test run or file uses. */
export function uniqueSchema(label: string): string {
  return `kgtest_${label}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Runs SQL on a connection of its own (not keygate's). */
export async function sql<T extends Record<string, unknown> = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: await testDatabaseUrl() });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as T[];
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await sql(`DROP SCHEMA IF EXISTS ${escapeIdentifier(schema)} CASCADE`);
}

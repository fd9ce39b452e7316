/**
 * The audit store for several gateway replicas: PostgreSQL through `pg`. The schema is created or
 * migrated at start-up (under an advisory lock, so replicas starting together do not race);
 * triggers refuse UPDATE, DELETE and TRUNCATE, so the log is append-only for anyone using SQL.
 *
 * It also provides the cross-replica per-key lock: Tyk's read-modify-write runs inside a
 * transaction holding `pg_advisory_xact_lock` on the key, so two replicas never interleave two
 * updates of one key. If the gateway dies mid-call, PostgreSQL ends the transaction and the lock.
 */
import { escapeIdentifier, Pool, type PoolClient } from 'pg';
import { withinDeadline, type Deadline } from '../core/deadline.ts';
import { KeyLockError, lockWaitTimeout, type KeyLock } from '../core/key-lock.ts';
import { createPostgresBucketStore } from './pg-buckets.ts';
import { createJobStore, JOB_TABLES, type SqlExec } from '../jobs/store.ts';
import { AuditStoreError, COLUMNS, entryQuery, rowValues, toEntry, type AuditStore } from './model.ts';

/** Schema versions, applied in order; `audit_schema_version` records those applied. `%s` is the schema. */
const MIGRATIONS = [
  `CREATE TABLE %s.audit_log (
     seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     attempt_id UUID NOT NULL,
     phase TEXT NOT NULL CHECK (phase IN ('intent', 'outcome')),
     at TIMESTAMPTZ NOT NULL,
     caller TEXT NOT NULL,
     request_id TEXT NOT NULL,
     provider TEXT,
     key_id TEXT,
     operation TEXT NOT NULL,
     patch JSONB,
     outcome TEXT NOT NULL,
     upstream_status INTEGER,
     trace_id TEXT,
     attempts INTEGER,
     duration_ms DOUBLE PRECISION
   );
   CREATE INDEX audit_log_attempt ON %s.audit_log (attempt_id, phase);
   CREATE INDEX audit_log_provider_key ON %s.audit_log (provider, key_id);
   CREATE INDEX audit_log_at ON %s.audit_log (at);
   CREATE FUNCTION %s.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
   CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON %s.audit_log
     FOR EACH ROW EXECUTE FUNCTION %s.audit_log_append_only();
   CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON %s.audit_log
     FOR EACH STATEMENT EXECUTE FUNCTION %s.audit_log_append_only();`,
  // Rate-limit buckets shared by replicas (src/upstream/rate-limit.ts): the theoretical arrival time, in ms of the database's clock.
  `CREATE TABLE %s.rate_limit_bucket (scope TEXT PRIMARY KEY, tat DOUBLE PRECISION NOT NULL);`,
  // Durable bulk update jobs (src/jobs/store.ts).
  JOB_TABLES,
];

/** A write or a read of the log never waits longer than this for the database. */
const STATEMENT_TIMEOUT_MS = 5_000;

export async function createPostgresAuditStore(url: string, schema: string): Promise<AuditStore> {
  const common = { connectionString: url, connectionTimeoutMillis: STATEMENT_TIMEOUT_MS, idleTimeoutMillis: 30_000 };
  const pool = new Pool({
    ...common,
    max: 10,
    application_name: 'keygate-audit',
    statement_timeout: STATEMENT_TIMEOUT_MS,
    query_timeout: STATEMENT_TIMEOUT_MS * 2,
  });
  // Lock holders keep their connection for a whole vendor call: a pool of their own, so they never starve audit writes.
  const lockPool = new Pool({ ...common, max: 32, connectionTimeoutMillis: 15_000, application_name: 'keygate-key-lock' });
  // A connection the server drops (restart, failover, pg_terminate_backend) emits 'error': idle in
  // the pool it is dropped and the next query opens a new one; checked out, the query or lock using
  // it fails. Every client gets a listener from birth, so no such 'error' is ever unhandled.
  for (const p of [pool, lockPool]) {
    p.on('error', () => undefined);
    p.on('connect', (client) => client.on('error', () => undefined));
  }
  const s = escapeIdentifier(schema);
  const table = `${s}.audit_log`;

  try {
    await migrate(pool, schema, s);
  } catch (err) {
    await Promise.allSettled([pool.end(), lockPool.end()]);
    throw new AuditStoreError(`audit.postgres: cannot prepare schema "${schema}": ${(err as Error).message}`);
  }
  const insert = `INSERT INTO ${table} (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((_, i) => `$${i + 1}`).join(', ')})`;
  let closed = false;
  const numbered = (sql: string) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  const exec: SqlExec = {
    all: async (sql, params) => (await pool.query(numbered(sql), params)).rows,
    run: async (sql, params) => (await pool.query(numbered(sql), params)).rowCount ?? 0,
    async batch(statements) {
      const client = await pool.connect();
      let failed: Error | undefined;
      try {
        await client.query('BEGIN');
        for (const [sql, params] of statements) await client.query(numbered(sql), params);
        await client.query('COMMIT');
      } catch (err) {
        failed = err as Error;
        await client.query('ROLLBACK').catch(() => undefined);
        throw err;
      } finally {
        client.release(failed);
      }
    },
  };

  return {
    kind: 'postgres',
    jobs: createJobStore(exec, `${s}.`),
    async append(row) {
      await pool.query(insert, rowValues(row, row.at, row.patch === null || row.patch === undefined ? null : JSON.stringify(row.patch)));
    },
    async query(filter, first, before) {
      const { sql, params } = entryQuery(
        table,
        filter,
        first,
        before,
        (i) => `$${i}`,
        (d) => d,
      );
      const { rows } = await pool.query(sql, params);
      return { entries: rows.slice(0, first).map((r) => toEntry(r, (v) => v ?? null)), hasNextPage: rows.length > first };
    },
    async check() {
      try {
        await pool.query(`SELECT 1 FROM ${table} LIMIT 1`);
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    createKeyLock: (scope) => createAdvisoryKeyLock(lockPool, `keygate:${schema}:${scope}`),
    createBucketStore: () => createPostgresBucketStore(pool, `${s}.rate_limit_bucket`),
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([pool.end(), lockPool.end()]);
    },
  };
}

async function migrate(pool: Pool, schema: string, s: string): Promise<void> {
  const client = await pool.connect();
  const lockKey = `keygate-audit-migrate:${schema}`;
  try {
    await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await client.query(`CREATE TABLE IF NOT EXISTS ${s}.audit_schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      const { rows } = await client.query(`SELECT coalesce(max(version), 0) AS v FROM ${s}.audit_schema_version`);
      for (let v = Number(rows[0].v); v < MIGRATIONS.length; v++) {
        await client.query('BEGIN');
        try {
          await client.query(MIGRATIONS[v].replaceAll('%s', s));
          await client.query(`INSERT INTO ${s}.audit_schema_version (version) VALUES ($1)`, [v + 1]);
          await client.query('COMMIT');
        } catch (err) {
          await client.query('ROLLBACK');
          throw err;
        }
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey]);
    }
  } finally {
    client.release();
  }
}

/**
 * A per-key lock across processes: the work runs while this connection's transaction holds a
 * transaction-scoped advisory lock on the key; COMMIT (or the connection's end) releases it.
 * Taking it — a pool connection, then the lock — waits only what is left of the call's deadline.
 * If the connection drops while the work runs, the lock is gone with it: `lost` aborts the work.
 */
function createAdvisoryKeyLock(pool: Pool, namespace: string): KeyLock {
  return {
    async run<T>(key: string, deadline: Deadline, work: (lost?: AbortSignal) => Promise<T>): Promise<T> {
      if (deadline.remaining() < 1) throw lockWaitTimeout(deadline);
      let client: PoolClient;
      try {
        client = await withinDeadline(
          pool.connect(),
          deadline,
          () => lockWaitTimeout(deadline),
          (late) => late.release(),
        );
      } catch (err) {
        if (err instanceof KeyLockError) throw err;
        throw new KeyLockError('unavailable', `cannot reach the database for the key lock: ${(err as Error).message}`);
      }
      const lost = new AbortController();
      const onError = (err: Error) => lost.abort(new KeyLockError('lost', `the key lock's database connection was lost (${err.message})`));
      client.on('error', onError);
      let failed: Error | undefined;
      try {
        // The server stops waiting for the lock when the call's deadline passes.
        const left = Math.floor(deadline.remaining());
        if (left < 1) throw lockWaitTimeout(deadline);
        try {
          await client.query('BEGIN');
          await client.query(`SET LOCAL lock_timeout = ${left}`);
          // A replica that hangs mid-call is cut off by the server, which frees the lock.
          await client.query(`SET LOCAL idle_in_transaction_session_timeout = ${Math.floor(deadline.ms) * 2 + 30_000}`);
          await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`${namespace}:${key}`]);
        } catch (err) {
          const timedOut = (err as { code?: string }).code === '55P03';
          if (!timedOut) failed = err as Error;
          await client.query('ROLLBACK').catch(() => undefined);
          throw timedOut ? lockWaitTimeout(deadline) : new KeyLockError('unavailable', `cannot take the key lock: ${(err as Error).message}`);
        }
        try {
          return await work(lost.signal);
        } finally {
          try {
            await client.query('COMMIT');
          } catch (err) {
            failed = err as Error;
          }
        }
      } finally {
        client.off('error', onError);
        client.release(failed ?? (lost.signal.aborted ? (lost.signal.reason as Error) : undefined));
      }
    },
  };
}

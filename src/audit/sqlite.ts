/**
 * The embedded audit store: one SQLite file through node:sqlite (built into Node; no native
 * addon). WAL journal, and triggers that refuse every UPDATE and DELETE, so the log is append-only
 * for anyone using SQL. `synchronous`: NORMAL (default) — a row is in the file before the answer
 * leaves and survives a crash of keygate, but the last rows may be lost if the machine loses power;
 * FULL — every row is fsynced first (costlier: each write blocks the event loop on the disk).
 * WAL checkpoints run in a worker thread (src/audit/sqlite-checkpointer.ts), off the event loop.
 *
 * For one gateway process: several replicas need PostgreSQL (src/audit/postgres.ts).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import type { RequestLog } from '../observability/log.ts';
import { createJobStore, JOB_TABLES, type SqlExec } from '../jobs/store.ts';
import { AuditStoreError, COLUMNS, entryQuery, rowValues, toEntry, type AuditRow, type AuditStore } from './model.ts';

/** Schema versions, applied in order; `PRAGMA user_version` records the last one applied. */
const MIGRATIONS = [
  `CREATE TABLE audit_log (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     attempt_id TEXT NOT NULL,
     phase TEXT NOT NULL CHECK (phase IN ('intent', 'outcome')),
     at TEXT NOT NULL,
     caller TEXT NOT NULL,
     request_id TEXT NOT NULL,
     provider TEXT,
     key_id TEXT,
     operation TEXT NOT NULL,
     patch TEXT,
     outcome TEXT NOT NULL,
     upstream_status INTEGER,
     trace_id TEXT,
     attempts INTEGER,
     duration_ms REAL
   );
   CREATE INDEX audit_log_attempt ON audit_log (attempt_id, phase);
   CREATE INDEX audit_log_provider_key ON audit_log (provider, key_id);
   CREATE INDEX audit_log_at ON audit_log (at);
   CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
   CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;`,
  // Durable bulk update jobs (src/jobs/store.ts).
  JOB_TABLES.replaceAll('%s.', ''),
];

/** Writes never wait longer than this for another connection's lock (they block the event loop). */
const BUSY_TIMEOUT_MS = 1000;
/** How often the checkpointer thread (src/audit/sqlite-checkpointer.ts) folds the WAL into the file. */
const CHECKPOINT_INTERVAL_MS = 1000;
/** SQLite's own automatic checkpoint size (pages), used again if the checkpointer thread fails. */
const AUTO_CHECKPOINT_PAGES = 1000;

export interface SqliteAuditOptions {
  synchronous?: 'normal' | 'full';
  /** Told once if the checkpointer thread fails (SQLite then checkpoints inside commits again). */
  log?: Pick<RequestLog, 'warn'>;
  /** The checkpointer thread's module (default src/audit/sqlite-checkpointer.ts; a test passes one that fails). */
  checkpointer?: URL;
}

export function createSqliteAuditStore(path: string, options: SqliteAuditOptions = {}): AuditStore {
  const { synchronous = 'normal', log, checkpointer = new URL('./sqlite-checkpointer.ts', import.meta.url) } = options;
  let db: DatabaseSync;
  try {
    mkdirSync(dirname(path), { recursive: true });
    db = new DatabaseSync(path, { timeout: BUSY_TIMEOUT_MS });
    // secure_delete: content a row no longer holds (a finished job item's live key id) is zeroed, not left in the file.
    db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}; PRAGMA secure_delete = ON;`);
    migrate(db);
    // Checkpoints (and their disk syncs) run in a worker thread, not inside commits on the event loop.
    db.exec('PRAGMA wal_autocheckpoint = 0');
  } catch (err) {
    throw new AuditStoreError(`audit.sqlite: cannot open ${path}: ${(err as Error).message}`);
  }
  let closed = false;
  const thread = new Worker(checkpointer, { workerData: { path, intervalMs: CHECKPOINT_INTERVAL_MS } });
  thread.unref();
  let fellBack = false;
  const fallBack = (reason: string) => {
    if (closed || fellBack) return;
    fellBack = true;
    // Without the thread the WAL would grow for ever: SQLite checkpoints inside commits again.
    db.exec(`PRAGMA wal_autocheckpoint = ${AUTO_CHECKPOINT_PAGES}`);
    log?.warn({ reason }, 'audit checkpointer thread failed; SQLite checkpoints inside commits again (slower commits)');
  };
  thread.on('error', (err) => fallBack(err.message));
  thread.on('message', (m: { error?: string }) => fallBack(`a checkpoint failed: ${m.error}`));
  thread.on('exit', (code) => fallBack(`the thread exited (${code})`));
  const insert = db.prepare(`INSERT INTO audit_log (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map(() => '?').join(', ')})`);
  let pending: { row: AuditRow; resolve: () => void; reject: (err: Error) => void }[] = [];
  const flush = () => {
    const batch = pending;
    pending = [];
    try {
      db.exec('BEGIN');
      try {
        for (const { row } of batch)
          insert.run(...(rowValues(row, row.at.toISOString(), row.patch === null || row.patch === undefined ? null : JSON.stringify(row.patch)) as never[]));
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    } catch (err) {
      const failure = err instanceof AuditStoreError ? err : new AuditStoreError(`audit.sqlite: ${(err as Error).message}`);
      for (const p of batch) p.reject(failure);
      return;
    }
    for (const p of batch) p.resolve();
  };

  // Statements run synchronously, so a job's batch never interleaves with the group commit above.
  const exec: SqlExec = {
    all: async (sql, params) => db.prepare(sql).all(...(params as never[])) as Record<string, unknown>[],
    run: async (sql, params) => Number(db.prepare(sql).run(...(params as never[])).changes),
    async batch(statements) {
      db.exec('BEGIN IMMEDIATE');
      try {
        for (const [sql, params] of statements) db.prepare(sql).run(...(params as never[]));
        db.exec('COMMIT');
      } catch (err) {
        db.exec('ROLLBACK');
        throw err;
      }
    },
  };
  const jobs = createJobStore(exec, '');

  return {
    kind: 'sqlite',
    jobs,
    append(row) {
      if (closed) return Promise.reject(new AuditStoreError('the audit store is closed'));
      // Group commit: rows appended in the same turn of the event loop are written in one
      // transaction; each append resolves only once its row is committed (fail closed holds).
      return new Promise<void>((resolve, reject) => {
        pending.push({ row, resolve, reject });
        if (pending.length === 1) setImmediate(flush);
      });
    },
    async query(filter, first, before) {
      const { sql, params } = entryQuery(
        'audit_log',
        filter,
        first,
        before,
        () => '?',
        (d) => d.toISOString(),
      );
      const rows = db.prepare(sql).all(...(params as never[])) as Record<string, unknown>[];
      const entries = rows.slice(0, first).map((r) => toEntry(r, (v) => (typeof v === 'string' ? JSON.parse(v) : null)));
      return { entries, hasNextPage: rows.length > first };
    },
    async check() {
      try {
        db.prepare('SELECT 1 FROM audit_log LIMIT 1').all();
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await thread.terminate();
      db.close();
    },
  };
}

function migrate(db: DatabaseSync): void {
  const { user_version: version } = db.prepare('PRAGMA user_version').get() as { user_version: number };
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[v]);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }
}

/**
 * Durable bulk update jobs: a job row and one row per item, in the audit store's database (SQLite
 * or PostgreSQL; the tables are the stores' migrations). Unlike the audit log these rows change:
 * an item goes QUEUED → PENDING (sent, outcome not yet known) → SUCCEEDED | FAILED | CANCELLED.
 * A job is run by the replica holding its lease (`lease_owner` until `lease_until`, in ms of the
 * replicas' clocks); another replica takes it over once the lease has lapsed.
 * Both stores speak the same SQL through `SqlExec` (`?` placeholders; times are epoch ms).
 */

export type JobState = 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';
export type ItemState = 'QUEUED' | 'PENDING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED';

export interface JobRow {
  id: string;
  caller: string;
  /** The starter's scopes (`action:provider`): items run with them. */
  scopes: string[];
  requestId: string;
  state: JobState;
  total: number;
  done: number;
  failed: number;
  cancelled: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  cancelRequested: boolean;
}

export interface ItemRow {
  seq: number;
  provider: string;
  keyId: string;
  /** The client's GraphQL patch input, as JSON. */
  patch: unknown;
  state: ItemState;
  /** The item's ApiKeyUpdateResult once known, as JSON. */
  result: unknown;
}

export interface NewItem {
  provider: string;
  keyId: string;
  patch: unknown;
  state: ItemState;
  result: unknown;
}

/** The SQL both stores run; `batch` runs statements in one transaction. */
export interface SqlExec {
  all(sql: string, params: unknown[]): Promise<Record<string, unknown>[]>;
  /** Resolves with the number of rows changed. */
  run(sql: string, params: unknown[]): Promise<number>;
  batch(statements: Array<[string, unknown[]]>): Promise<void>;
}

/** The tables, shared by both stores' migrations (`BIGINT` is an integer to SQLite). `%s.` is the schema prefix. */
export const JOB_TABLES = `CREATE TABLE %s.update_job (
     id TEXT PRIMARY KEY,
     caller TEXT NOT NULL,
     scopes TEXT NOT NULL,
     request_id TEXT NOT NULL,
     state TEXT NOT NULL,
     total INTEGER NOT NULL,
     created_at BIGINT NOT NULL,
     started_at BIGINT,
     finished_at BIGINT,
     cancel_requested INTEGER NOT NULL DEFAULT 0,
     lease_owner TEXT,
     lease_until BIGINT
   );
   CREATE TABLE %s.update_job_item (
     job_id TEXT NOT NULL,
     seq INTEGER NOT NULL,
     provider TEXT NOT NULL,
     key_id TEXT NOT NULL,
     patch TEXT NOT NULL,
     state TEXT NOT NULL,
     result TEXT,
     PRIMARY KEY (job_id, seq)
   );`;

/** What operations need of the runner (src/jobs/runner.ts). */
export interface JobControl {
  /** Looks for work now (after a job was started or a cancel asked for). */
  kick(): void;
  /** A cancel asked for on this replica: its running job stops taking items at once. */
  cancelled(id: string): void;
}

/** Bulk update jobs as a request sees them (undefined when the audit store is off). */
export interface Jobs {
  store: JobStore;
  runner: JobControl;
  maxJobItems: number;
}

export interface JobStore {
  create(job: { id: string; caller: string; scopes: string[]; requestId: string; createdAt: Date }, items: NewItem[]): Promise<void>;
  get(id: string): Promise<JobRow | undefined>;
  /** Newest first; `before`: a job id from an earlier page. */
  list(first: number, before?: string): Promise<{ jobs: JobRow[]; hasNextPage: boolean }>;
  /** Items in input order after `afterSeq`. */
  items(jobId: string, first: number, afterSeq: number, onlyUnfinished?: boolean): Promise<ItemRow[]>;
  /** `keptKeyId`: what the row keeps as the key id from now on (a finished item's fingerprint, where the id is a credential). */
  setItem(jobId: string, seq: number, state: ItemState, result: unknown, keptKeyId?: string): Promise<void>;
  /** Jobs that need a runner: QUEUED, or RUNNING with a lapsed lease (any lease, when `ignoreLeases`). */
  runnable(now: number, ignoreLeases: boolean): Promise<string[]>;
  /** Takes or renews the lease; false when another holds it. Also reports whether a cancel was asked for. */
  lease(id: string, owner: string, now: number, until: number, force: boolean): Promise<{ held: boolean; cancelRequested: boolean }>;
  /** Sets the state (and the start or finish time); `releaseOwner` gives the lease back. */
  setState(id: string, state: JobState, at: { startedAt?: number; finishedAt?: number }, releaseOwner?: string): Promise<void>;
  /** Marks a cancel request; false when the job is unknown or already finished. */
  requestCancel(id: string): Promise<boolean>;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const parse = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : (v ?? null));

export function createJobStore(exec: SqlExec, prefix: string): JobStore {
  const job = `${prefix}update_job`;
  const item = `${prefix}update_job_item`;
  const counts = `(SELECT count(*) FROM ${item} i WHERE i.job_id = j.id AND i.state = 'SUCCEEDED') AS done,
    (SELECT count(*) FROM ${item} i WHERE i.job_id = j.id AND i.state = 'FAILED') AS failed,
    (SELECT count(*) FROM ${item} i WHERE i.job_id = j.id AND i.state = 'CANCELLED') AS cancelled`;
  const toJob = (r: Record<string, unknown>): JobRow => ({
    id: String(r.id),
    caller: String(r.caller),
    scopes: parse(r.scopes) as string[],
    requestId: String(r.request_id),
    state: r.state as JobState,
    total: Number(r.total),
    done: Number(r.done),
    failed: Number(r.failed),
    cancelled: Number(r.cancelled),
    createdAt: new Date(Number(r.created_at)),
    startedAt: num(r.started_at) === null ? null : new Date(Number(r.started_at)),
    finishedAt: num(r.finished_at) === null ? null : new Date(Number(r.finished_at)),
    cancelRequested: Number(r.cancel_requested) === 1,
  });
  const FINISHED = `('SUCCEEDED', 'FAILED', 'CANCELLED')`;

  return {
    async create(j, items) {
      const statements: Array<[string, unknown[]]> = [
        [
          `INSERT INTO ${job} (id, caller, scopes, request_id, state, total, created_at) VALUES (?, ?, ?, ?, 'QUEUED', ?, ?)`,
          [j.id, j.caller, JSON.stringify(j.scopes), j.requestId, items.length, j.createdAt.getTime()],
        ],
      ];
      // Multi-row inserts: 10,000 items in a few hundred statements.
      for (let start = 0; start < items.length; start += 100) {
        const chunk = items.slice(start, start + 100);
        statements.push([
          `INSERT INTO ${item} (job_id, seq, provider, key_id, patch, state, result) VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
          chunk.flatMap((it, i) => [
            j.id,
            start + i,
            it.provider,
            it.keyId,
            JSON.stringify(it.patch),
            it.state,
            it.result === null ? null : JSON.stringify(it.result),
          ]),
        ]);
      }
      await exec.batch(statements);
    },
    async get(id) {
      const rows = await exec.all(`SELECT j.*, ${counts} FROM ${job} j WHERE j.id = ?`, [id]);
      return rows[0] && toJob(rows[0]);
    },
    async list(first, before) {
      const rows = await exec.all(
        `SELECT j.*, ${counts} FROM ${job} j ${before === undefined ? '' : 'WHERE j.id < ?'} ORDER BY j.id DESC LIMIT ?`,
        before === undefined ? [first + 1] : [before, first + 1],
      );
      return { jobs: rows.slice(0, first).map(toJob), hasNextPage: rows.length > first };
    },
    async items(jobId, first, afterSeq, onlyUnfinished = false) {
      const rows = await exec.all(
        `SELECT seq, provider, key_id, patch, state, result FROM ${item} WHERE job_id = ? AND seq > ? ${onlyUnfinished ? `AND state IN ('QUEUED', 'PENDING')` : ''} ORDER BY seq LIMIT ?`,
        [jobId, afterSeq, first],
      );
      return rows.map((r) => ({
        seq: Number(r.seq),
        provider: String(r.provider),
        keyId: String(r.key_id),
        patch: parse(r.patch),
        state: r.state as ItemState,
        result: parse(r.result),
      }));
    },
    async setItem(jobId, seq, state, result, keptKeyId) {
      await exec.run(`UPDATE ${item} SET state = ?, result = ?, key_id = coalesce(?, key_id) WHERE job_id = ? AND seq = ?`, [
        state,
        result === null ? null : JSON.stringify(result),
        keptKeyId ?? null,
        jobId,
        seq,
      ]);
    },
    async runnable(now, ignoreLeases) {
      const rows = await exec.all(
        `SELECT id FROM ${job} WHERE state = 'QUEUED' OR (state = 'RUNNING' AND (${ignoreLeases ? '1 = 1' : 'lease_until IS NULL OR lease_until < ?'})) ORDER BY id`,
        ignoreLeases ? [] : [now],
      );
      return rows.map((r) => String(r.id));
    },
    async lease(id, owner, now, until, force) {
      const changed = await exec.run(
        `UPDATE ${job} SET lease_owner = ?, lease_until = ? WHERE id = ? AND state NOT IN ${FINISHED} AND (${force ? '1 = 1' : 'lease_owner IS NULL OR lease_owner = ? OR lease_until < ?'})`,
        force ? [owner, until, id] : [owner, until, id, owner, now],
      );
      if (changed === 0) return { held: false, cancelRequested: false };
      const rows = await exec.all(`SELECT cancel_requested FROM ${job} WHERE id = ?`, [id]);
      return { held: true, cancelRequested: Number(rows[0]?.cancel_requested) === 1 };
    },
    async setState(id, state, at, releaseOwner) {
      const sets = ['state = ?'];
      const params: unknown[] = [state];
      if (at.startedAt !== undefined) {
        sets.push('started_at = coalesce(started_at, ?)');
        params.push(at.startedAt);
      }
      if (at.finishedAt !== undefined) {
        sets.push('finished_at = ?');
        params.push(at.finishedAt);
      }
      if (releaseOwner !== undefined) sets.push('lease_owner = NULL, lease_until = NULL');
      await exec.run(`UPDATE ${job} SET ${sets.join(', ')} WHERE id = ?${releaseOwner !== undefined ? ' AND lease_owner = ?' : ''}`, [
        ...params,
        id,
        ...(releaseOwner !== undefined ? [releaseOwner] : []),
      ]);
    },
    async requestCancel(id) {
      return (await exec.run(`UPDATE ${job} SET cancel_requested = 1 WHERE id = ? AND state NOT IN ${FINISHED}`, [id])) > 0;
    },
  };
}

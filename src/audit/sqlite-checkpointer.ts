/**
 * The SQLite audit store's checkpointer, in a worker thread (started by src/audit/sqlite.ts).
 *
 * A WAL checkpoint copies the log into the database file and syncs it to disk; left to SQLite's
 * automatic checkpoint it runs inside a commit on the event loop and stalls every request for
 * as long as the disk takes. Here it runs on its own connection every
 * `intervalMs`, in PASSIVE mode (it never blocks the writer), so the event loop never waits on it.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';

const { path, intervalMs } = workerData as { path: string; intervalMs: number };
const db = new DatabaseSync(path, { timeout: 1000 });
setInterval(() => {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort?.postMessage({ error: (err as Error).message });
  }
}, intervalMs);

/**
 * Rate-limit buckets in PostgreSQL, shared by every replica on one audit store: a row per bucket
 * holding its GCRA theoretical arrival time (src/upstream/rate-limit.ts), in ms of the database's
 * clock (so replicas' clocks need not agree). A reservation is one statement that locks the row.
 */
import type { Pool, QueryConfig } from 'pg';
import type { BucketStore } from '../upstream/rate-limit.ts';

/** A bucket query never waits longer than this (it also fails closed when the database does not answer). */
const BUCKET_QUERY_TIMEOUT_MS = 2_000;

export function createPostgresBucketStore(pool: Pool, table: string): BucketStore {
  const created = new Set<string>();
  // `query_timeout` per query: pg honours it, its types do not list it.
  const q = (text: string, values: unknown[]) => pool.query({ text, values, query_timeout: BUCKET_QUERY_TIMEOUT_MS } as QueryConfig);
  const ensure = async (scope: string) => {
    if (created.has(scope)) return;
    await q(`INSERT INTO ${table} (scope, tat) VALUES ($1, 0) ON CONFLICT (scope) DO NOTHING`, [scope]);
    created.add(scope);
  };
  const NOW = `(extract(epoch FROM clock_timestamp()) * 1000)::float8`;
  const reserve = `WITH cur AS (SELECT b.scope, greatest(b.tat, ${NOW}) AS base, ${NOW} AS now FROM ${table} b WHERE b.scope = $1 FOR UPDATE),
      upd AS (UPDATE ${table} t SET tat = cur.base + $2 FROM cur WHERE t.scope = cur.scope AND cur.base - cur.now - $3 <= $4 RETURNING 1)
    SELECT cur.base - cur.now - $3 AS wait, EXISTS (SELECT 1 FROM upd) AS reserved FROM cur`;
  const pause = `UPDATE ${table} SET tat = greatest(tat, ${NOW} + $2 + $3) WHERE scope = $1`;
  return {
    shared: true,
    async reserve(scope, gcra, maxWaitMs) {
      await ensure(scope);
      const { rows } = await q(reserve, [scope, gcra.intervalMs, gcra.toleranceMs, maxWaitMs]);
      if (rows.length === 0) {
        created.delete(scope);
        throw new Error('the bucket row is missing');
      }
      const waitMs = Number(rows[0].wait);
      return { reserved: rows[0].reserved === true, waitMs: Math.max(0, waitMs) };
    },
    async pause(scope, gcra, ms) {
      await ensure(scope);
      await q(pause, [scope, ms, gcra.toleranceMs]);
    },
  };
}

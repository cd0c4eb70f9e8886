/**
 * Versioned, idempotent ClickHouse migrations. Files `migrations/NNN_name.sql` run in order;
 * each applied version is recorded in `schema_migrations`, so running again does nothing. Every
 * statement is itself idempotent (`IF NOT EXISTS`), so a migration interrupted half-way is simply
 * run again. `{db}` in a file stands for the cluster's database. ClickHouse 18.16 has no
 * `ADD COLUMN IF NOT EXISTS`, so an `ADD COLUMN` refused because the column exists counts as done.
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ClusterConfig } from '../config.ts';
import { clickhouse } from './client.ts';

const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** One migration file. */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

/** The migrations shipped with this version, in order. */
export async function loadMigrations(db: string): Promise<Migration[]> {
  const files = (await readdir(DIR)).filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (f) => {
      const sql = (await readFile(DIR + f, 'utf8')).replaceAll('{db}', db);
      const statements = sql
        .split(/;\s*(?:\n|$)/)
        .map((s) => s.replace(/^\s*--.*$/gm, '').trim())
        .filter(Boolean);
      return { version: Number(f.slice(0, 3)), name: f.slice(4, -4), statements };
    }),
  );
}

/**
 * ClickHouse's error 44, a column that already exists: the client parses the code out of current
 * servers' messages; 18.16's (`Code: 44, e.displayText() = …`) it leaves in the message.
 */
function isDuplicateColumn(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === '44' || /^Code: 44\b/.test(e.message ?? '');
}

function ignoreExistingColumn(query: string, err: unknown): void {
  if (/\bADD COLUMN\b/i.test(query) && isDuplicateColumn(err)) return;
  throw err;
}

/** Apply every migration not yet applied; returns the versions applied now. */
export async function migrate(cfg: ClusterConfig): Promise<number[]> {
  const db = cfg.clickhouse.database;
  const ch = clickhouse(cfg, { database: null });
  try {
    await ch.command({ query: `CREATE DATABASE IF NOT EXISTS ${db}` });
    await ch.command({
      query: `CREATE TABLE IF NOT EXISTS ${db}.schema_migrations (version UInt32, name String, applied_at DateTime) ENGINE = TinyLog`,
    });
    const rs = await ch.query({ query: `SELECT version FROM ${db}.schema_migrations`, format: 'JSONEachRow' });
    const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const m of await loadMigrations(db)) {
      if (done.has(m.version)) continue;
      for (const query of m.statements) await ch.command({ query }).catch((err) => ignoreExistingColumn(query, err));
      await ch.insert({
        table: `${db}.schema_migrations`,
        values: [{ version: m.version, name: m.name, applied_at: Math.floor(Date.now() / 1000) }],
        format: 'JSONEachRow',
      });
      applied.push(m.version);
    }
    return applied;
  } finally {
    await ch.close();
  }
}

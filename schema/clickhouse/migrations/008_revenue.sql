-- Delayed revenue from the casino platform (docs/protocol.md, “Revenue import”): per player and day,
-- the platform's own figures, imported from files.

-- One row per line of an imported file. An import's id is derived from (brand, SHA-256 of the
-- file), so importing a file again writes the very same rows: the sorting key is a line's identity,
-- and a line written twice (an import killed and run again) is one row after merges and, for
-- readers grouping by the key as `revenue_current` does, at once. Two lines of one file for the
-- same (player, day) stay two rows (their `line` differs): the earlier one counts, the later one is
-- reported rejected. Money is Decimal64(4): exact. Figures a file does not give are 0.
CREATE TABLE IF NOT EXISTS {db}.revenue_rows (
  brand_id String,
  day Date,
  player_id String,
  import_id String,
  line UInt64,
  ggr Decimal64(4),
  bonuses Decimal64(4),
  ngr Decimal64(4),
  stakes Decimal64(4),
  wins Decimal64(4),
  deposits Decimal64(4)
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(day) ORDER BY (brand_id, day, player_id, import_id, line);

-- The log of imports, one row per change of an import: `running` when it starts, `done` (with its
-- figures) when every row is written. A killed import stays `running` and is never current; the
-- same file imported again completes it under the same id. `covered_days` are the days a done
-- import has rows for; `finished_key` (finish time in ms, zero-padded, then the id) orders done
-- imports: of those having a day, the greatest key is that day's current import. `rejections` is
-- the JSON of the first rejected lines, so that a duplicate import can answer the same summary;
-- `timezone` the brand's when the file was imported: the days are days there.
CREATE TABLE IF NOT EXISTS {db}.revenue_imports (
  id String,
  brand_id String,
  file_name String,
  sha256 String,
  status String,
  started_at DateTime,
  finished_at DateTime,
  finished_key String,
  lines UInt64,
  rows UInt64,
  players UInt64,
  days UInt32,
  first_day Date,
  last_day Date,
  covered_days Array(Date),
  rejected UInt64,
  rejections String,
  timezone String
) ENGINE = ReplacingMergeTree() ORDER BY (brand_id, id, status);

-- Per (brand, day, player), the row of that day's current import, exactly once whether or not
-- merges have happened (the reconciliation and cohort reports read this, docs/reports.md).
CREATE VIEW IF NOT EXISTS {db}.revenue_current AS
SELECT
  brand_id,
  day,
  player_id,
  argMin(ggr, line) AS ggr,
  argMin(bonuses, line) AS bonuses,
  argMin(ngr, line) AS ngr,
  argMin(stakes, line) AS stakes,
  argMin(wins, line) AS wins,
  argMin(deposits, line) AS deposits,
  import_id
FROM {db}.revenue_rows
WHERE (brand_id, day, import_id) IN (
  SELECT brand_id, day, argMax(id, finished_key)
  FROM {db}.revenue_imports
  ARRAY JOIN covered_days AS day
  WHERE status = 'done'
  GROUP BY brand_id, day
)
GROUP BY brand_id, day, player_id, import_id;

-- Commissions (docs/commissions.md). The ledger is append-only: one row per change of a line (a
-- line made is version 1, each status change the next version), so a line as it stands is its row
-- of highest version (argMax(…, version)). A chargeback never edits a line: it appends a new line
-- of the opposite amount, status 'reversed', reversal_of the original. Tagged (partition, seq, idx)
-- like the raw logs: the workers' landed-rows check keeps a replay from writing a change twice.
-- Money is Decimal64(4): exact. `pct` is the plan's text ('' for CPA).
CREATE TABLE IF NOT EXISTS {db}.commission_ledger (
  partition UInt16,
  seq UInt64,
  idx UInt32,
  id String,
  version UInt32,
  brand_id String,
  affiliate_id String,
  player_id String,
  kind String,
  period String,
  amount Decimal64(4),
  currency String,
  status String,
  reason String,
  plan_version String,
  plan_id String,
  plan_version_no UInt32,
  source_event_id String,
  created_at DateTime,
  created_at_ms UInt16,
  updated_at DateTime,
  updated_at_ms UInt16,
  at DateTime,
  at_ms UInt16,
  hold_until DateTime,
  hold_until_ms UInt16,
  changed_by String,
  click_id String,
  sub1 String,
  reversal_of String,
  ngr Decimal64(4),
  carry_in Decimal64(4),
  carry_out Decimal64(4),
  pct String,
  reference String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(at) ORDER BY (partition, seq, idx);

-- Open RevShare periods' running figures, one id per (brand, affiliate, period, plan version) —
-- the id of the line the figures become when the period closes. The latest version of an id wins
-- (read with argMax or FINAL); `closed` = 1 is the last row of a period whose lines are in the ledger.
-- Not partitioned: replacing works within a partition, and an id must meet all its versions.
CREATE TABLE IF NOT EXISTS {db}.revshare_accruals (
  id String,
  version UInt64,
  brand_id String,
  affiliate_id String,
  period String,
  plan_version String,
  plan_id String,
  plan_version_no UInt32,
  currency String,
  ngr Decimal64(4),
  held_ngr Decimal64(4),
  ftds UInt32,
  pct String,
  amount Decimal64(4),
  carry_in Decimal64(4),
  closed UInt8,
  at DateTime,
  at_ms UInt16
) ENGINE = ReplacingMergeTree(version) ORDER BY id;

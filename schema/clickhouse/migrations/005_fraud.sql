-- The fraud engine (docs/fraud.md). Every click and registration carries a fraud score 0–100; clicks
-- also say whether the click-stream rule flagged them and the fraud status of their sub-ID.
ALTER TABLE {db}.clicks ADD COLUMN fraud_score UInt8 DEFAULT 0;
ALTER TABLE {db}.clicks ADD COLUMN flagged UInt8 DEFAULT 0;
ALTER TABLE {db}.clicks ADD COLUMN sub_status String DEFAULT 'active';
ALTER TABLE {db}.click_lookup ADD COLUMN ip String DEFAULT '';
ALTER TABLE {db}.click_lookup ADD COLUMN fraud_score UInt8 DEFAULT 0;
ALTER TABLE {db}.click_lookup ADD COLUMN flagged UInt8 DEFAULT 0;
ALTER TABLE {db}.click_lookup ADD COLUMN sub_status String DEFAULT 'active';
-- `commissionable` = attributed through active traffic and the player not held by a fraud rule.
ALTER TABLE {db}.events ADD COLUMN fraud_score UInt8 DEFAULT 0;
ALTER TABLE {db}.events ADD COLUMN commissionable UInt8 DEFAULT 0;

-- Every alert raised, once: (partition, seq) is where the rule fired, for the workers' landed-rows
-- check; `id` is deterministic, so a replay raises the same one.
CREATE TABLE IF NOT EXISTS {db}.fraud_alerts (
  partition UInt16,
  seq UInt64,
  id String,
  ts DateTime,
  ts_ms UInt16,
  brand_id String,
  affiliate_id String,
  sub_id String,
  player_id String,
  rule String,
  action String,
  score UInt8,
  evidence String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (brand_id, affiliate_id, ts, id);

-- Operators' lifts of pauses and blocks: who, when, why (append-only).
CREATE TABLE IF NOT EXISTS {db}.fraud_audit (
  ts DateTime,
  pause_id String,
  brand_id String,
  affiliate_id String,
  sub_id String,
  rule String,
  action String,
  operator String,
  reason String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (ts, pause_id);

-- Each partition's fraud state: key '' is the partition's own part (network totals, forwarded
-- batches applied), written with every snapshot; `a:<affiliate>` and `i:<identity>` are actors,
-- written when they changed ('' state: gone). The latest version (seq) of each key wins; replay
-- resumes from the partition row's version, so windows are neither lost nor counted twice.
CREATE TABLE IF NOT EXISTS {db}.fraud_state (
  partition UInt16,
  key String,
  seq UInt64,
  state String
) ENGINE = ReplacingMergeTree(seq) ORDER BY (partition, key);

-- Multi-touch attribution reads a visitor's clicks with the same columns as a single click.
ALTER TABLE {db}.visitor_clicks ADD COLUMN bot UInt8 DEFAULT 0;
ALTER TABLE {db}.visitor_clicks ADD COLUMN geo_blocked UInt8 DEFAULT 0;
ALTER TABLE {db}.visitor_clicks ADD COLUMN affiliate_status String DEFAULT 'active';
ALTER TABLE {db}.visitor_clicks ADD COLUMN ip String DEFAULT '';
ALTER TABLE {db}.visitor_clicks ADD COLUMN fraud_score UInt8 DEFAULT 0;
ALTER TABLE {db}.visitor_clicks ADD COLUMN flagged UInt8 DEFAULT 0;
ALTER TABLE {db}.visitor_clicks ADD COLUMN sub_status String DEFAULT 'active';

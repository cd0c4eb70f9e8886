-- Visitor identity and multi-touch attribution (docs/architecture.md, “Attribution”). ClickHouse 18.16 has no
-- `ADD COLUMN IF NOT EXISTS`: the migration runner takes "column already exists" for done, so a
-- migration interrupted half-way still runs again.
ALTER TABLE {db}.clicks ADD COLUMN visitor_id String;
ALTER TABLE {db}.click_lookup ADD COLUMN visitor_id String;

-- The attributable clicks (not bot, not geo-blocked) of identified visitors, by visitor: the touches
-- a registration weighs under first click, linear and position-based rules. Written with every
-- flush of `clicks`; read by visitor and deduplicated by click id, so a row written twice is harmless.
CREATE TABLE IF NOT EXISTS {db}.visitor_clicks (
  visitor_id String,
  brand_id String,
  ts DateTime,
  ts_ms UInt16,
  click_id String,
  partition UInt16,
  affiliate_id String,
  code String,
  campaign String,
  sub1 String,
  country String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (visitor_id, brand_id, ts);

-- One row per credited touch of an attributed player, written with the registration that bound it:
-- the touch's weight in basis points (a player's sum to 10000), whether it is the binding touch,
-- and the rules version. Tagged (partition, seq, idx) like the raw logs: the landed-rows check
-- keeps a replay from writing it twice.
CREATE TABLE IF NOT EXISTS {db}.attribution_credits (
  partition UInt16,
  seq UInt64,
  idx UInt32,
  brand_id String,
  player_id String,
  player_uuid String,
  registered_at DateTime,
  registration_id String,
  click_id String,
  click_ts DateTime,
  affiliate_id String,
  code String,
  campaign String,
  sub1 String,
  weight_bp UInt16,
  binding UInt8,
  rules_version String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(registered_at) ORDER BY (partition, seq, idx);

-- Per-minute sums of the touches' shares of attributed players' events: counts in basis points,
-- money split exactly per event (largest remainder at 0.0001, the parts summing to the event's
-- amount). Written by the workers per flush and partition like event_minutes.
CREATE TABLE IF NOT EXISTS {db}.credit_minutes (
  partition UInt16,
  seq UInt64,
  minute DateTime,
  brand_id String,
  affiliate_id String,
  sub1 String,
  campaign String,
  rules_version String,
  registrations_bp UInt64,
  ftds_bp UInt64,
  ftd_amount Decimal64(4),
  deposit_amount Decimal64(4),
  ngr Decimal64(4)
) ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (brand_id, affiliate_id, minute, sub1, campaign, rules_version);

-- The attribution rules each partition put in force, at the sequence of the message that did:
-- recovery takes the latest at or below the partition's checkpoint.
CREATE TABLE IF NOT EXISTS {db}.partition_rules (
  partition UInt16,
  seq UInt64,
  rules String
) ENGINE = ReplacingMergeTree(seq) ORDER BY (partition, seq);

-- Backfill, once: players attributed before this migration were bound by last click, their click
-- taking the whole credit (its time is not in `events`: click_ts is left at the epoch). Rows whose (partition, seq) is already there are skipped, so running
-- this again after an interruption adds nothing twice.
INSERT INTO {db}.attribution_credits
SELECT partition, seq, idx, brand_id, player_id, player_uuid, ts AS registered_at, event_id AS registration_id, click_id,
  toDateTime(0) AS click_ts, affiliate_id, code, campaign, sub1, toUInt16(10000) AS weight_bp, toUInt8(1) AS binding, rules_version
FROM {db}.events
WHERE type = 'registration' AND attribution = 'click'
  AND (partition, seq) NOT IN (SELECT partition, seq FROM {db}.attribution_credits);

INSERT INTO {db}.credit_minutes
SELECT partition, seq, toStartOfMinute(ts) AS minute, brand_id, affiliate_id, sub1, campaign, rules_version,
  countIf(type = 'registration') * 10000 AS registrations_bp,
  sum(is_ftd) * 10000 AS ftds_bp,
  toDecimal64(sumIf(amount, is_ftd = 1), 4) AS ftd_amount,
  toDecimal64(sumIf(amount, type = 'deposit'), 4) AS deposit_amount,
  toDecimal64(sum(ngr), 4) AS ngr
FROM {db}.events
WHERE attribution = 'click'
  AND (partition, seq) NOT IN (SELECT partition, seq FROM {db}.credit_minutes)
GROUP BY partition, seq, minute, brand_id, affiliate_id, sub1, campaign, rules_version;

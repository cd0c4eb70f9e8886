-- Raw player event log: one row per accepted event (duplicates never reach it), with the
-- attribution the player had when the event was applied. Money is Decimal64(4): exact.
CREATE TABLE IF NOT EXISTS {db}.events (
  partition UInt16,
  seq UInt64,
  idx UInt32,
  event_id String,
  type Enum8('registration' = 1, 'kyc' = 2, 'deposit' = 3, 'withdrawal' = 4, 'bet' = 5, 'bonus' = 6, 'chargeback' = 7),
  ts DateTime,
  ts_ms UInt16,
  brand_id String,
  player_id String,
  player_uuid String,
  source String,
  ip String,
  country String,
  device_id String,
  affiliate_id String,
  click_id String,
  code String,
  campaign String,
  sub1 String,
  click_country String,
  attribution String,
  rules_version String,
  kyc_status String,
  is_ftd UInt8,
  amount Decimal64(4),
  win Decimal64(4),
  currency String,
  original_amount Decimal64(4),
  original_currency String,
  ggr Decimal64(4),
  bonus_cost Decimal64(4),
  chargeback Decimal64(4),
  fees Decimal64(4),
  tax Decimal64(4),
  ngr Decimal64(4),
  game String,
  category String,
  bonus_action String,
  bonus_id String,
  max_bonus UInt8,
  deposit_id String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (partition, seq, idx);

-- Per-minute conversion and revenue aggregates per brand, affiliate, sub1, campaign and country
-- (the click's country for attributed players, the event's otherwise). Sums of Decimal64 are
-- Decimal128; cast back (a minute of one key never nears 10^14).
CREATE TABLE IF NOT EXISTS {db}.events_minute (
  minute DateTime,
  brand_id String,
  affiliate_id String,
  sub1 String,
  campaign String,
  country String,
  registrations UInt64,
  ftds UInt64,
  ftd_amount Decimal64(4),
  deposits UInt64,
  deposit_amount Decimal64(4),
  withdrawal_amount Decimal64(4),
  ggr Decimal64(4),
  bonus_amount Decimal64(4),
  chargeback_amount Decimal64(4),
  ngr Decimal64(4)
) ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (brand_id, affiliate_id, minute, sub1, campaign, country);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.events_minute_mv TO {db}.events_minute AS
SELECT
  toStartOfMinute(ts) AS minute,
  brand_id,
  affiliate_id,
  sub1,
  campaign,
  if(click_country != '', click_country, country) AS country,
  countIf(type = 'registration') AS registrations,
  sum(is_ftd) AS ftds,
  toDecimal64(sumIf(amount, is_ftd = 1), 4) AS ftd_amount,
  countIf(type = 'deposit') AS deposits,
  toDecimal64(sumIf(amount, type = 'deposit'), 4) AS deposit_amount,
  toDecimal64(sumIf(amount, type = 'withdrawal'), 4) AS withdrawal_amount,
  toDecimal64(sum(ggr), 4) AS ggr,
  toDecimal64(sum(bonus_cost), 4) AS bonus_amount,
  toDecimal64(sum(chargeback), 4) AS chargeback_amount,
  toDecimal64(sum(ngr), 4) AS ngr
FROM {db}.events
GROUP BY minute, brand_id, affiliate_id, sub1, campaign, country;

-- Clicks by id, for attributing a registration to its click (a primary-key lookup).
CREATE TABLE IF NOT EXISTS {db}.click_lookup (
  click_id String,
  partition UInt16,
  ts DateTime,
  ts_ms UInt16,
  code String,
  brand_id String,
  affiliate_id String,
  campaign String,
  sub1 String,
  country String,
  bot UInt8,
  geo_blocked UInt8,
  affiliate_status String
) ENGINE = MergeTree() PARTITION BY toYYYYMM(ts) ORDER BY click_id;

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.click_lookup_mv TO {db}.click_lookup AS
SELECT click_id, partition, ts, ts_ms, code, brand_id, affiliate_id, campaign, sub1, country, bot, geo_blocked, toString(affiliate_status) AS affiliate_status
FROM {db}.clicks;

-- Player actor snapshots: the latest version (seq) of each player wins.
CREATE TABLE IF NOT EXISTS {db}.player_state (
  partition UInt16,
  player_key String,
  seq UInt64,
  state String
) ENGINE = ReplacingMergeTree(seq) ORDER BY (partition, player_key);

-- How far each partition's flushes got: written after every table of a flush.
CREATE TABLE IF NOT EXISTS {db}.checkpoints (
  partition UInt16,
  seq UInt64
) ENGINE = ReplacingMergeTree(seq) ORDER BY partition;

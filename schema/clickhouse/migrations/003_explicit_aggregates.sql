-- Aggregates written by the workers, not by materialized views. A view is pushed in the same
-- INSERT as its source table, but not atomically with it: a server stopped mid-insert could keep
-- the raw rows and lose the view's, and the retry (which skips rows the raw table already holds)
-- could never put them back. Written explicitly, each aggregate table carries (partition, seq) like
-- the raw logs, so the workers' landed-rows check covers it too. Rows are per flush and partition;
-- reports sum them.
DROP TABLE IF EXISTS {db}.clicks_minute_mv;
DROP TABLE IF EXISTS {db}.events_minute_mv;
DROP TABLE IF EXISTS {db}.click_lookup_mv;

CREATE TABLE IF NOT EXISTS {db}.click_minutes (
  partition UInt16,
  seq UInt64,
  minute DateTime,
  brand_id String,
  affiliate_id String,
  sub1 String,
  campaign String,
  country String,
  clicks UInt64,
  unique_clicks UInt64,
  bot_clicks UInt64,
  geo_blocked_clicks UInt64
) ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (brand_id, affiliate_id, minute, sub1, campaign, country);

CREATE TABLE IF NOT EXISTS {db}.event_minutes (
  partition UInt16,
  seq UInt64,
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
) ENGINE = MergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (brand_id, affiliate_id, minute, sub1, campaign, country);

-- Backfill from the raw logs, once: rows whose (partition, seq) is already there are skipped, so
-- running this again after an interruption adds nothing twice.
INSERT INTO {db}.click_minutes
SELECT partition, seq, toStartOfMinute(ts) AS minute, brand_id, affiliate_id, sub1, campaign, country,
  count() AS clicks, sum(is_unique) AS unique_clicks, sum(bot) AS bot_clicks, sum(geo_blocked) AS geo_blocked_clicks
FROM {db}.clicks
WHERE (partition, seq) NOT IN (SELECT partition, seq FROM {db}.click_minutes)
GROUP BY partition, seq, minute, brand_id, affiliate_id, sub1, campaign, country;

INSERT INTO {db}.event_minutes
SELECT partition, seq, toStartOfMinute(ts) AS minute, brand_id, affiliate_id, sub1, campaign,
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
WHERE (partition, seq) NOT IN (SELECT partition, seq FROM {db}.event_minutes)
GROUP BY partition, seq, minute, brand_id, affiliate_id, sub1, campaign, country;

DROP TABLE IF EXISTS {db}.clicks_minute;
DROP TABLE IF EXISTS {db}.events_minute;

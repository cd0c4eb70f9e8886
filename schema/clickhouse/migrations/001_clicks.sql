-- Raw click log: append-only, one row per click, partitioned by month (retention drops whole
-- partitions). Sorted by (partition, seq, idx) = the order of the JetStream partition stream, so a
-- worker finds its resume point with a primary-key lookup and the audit chain can walk batches.
CREATE TABLE IF NOT EXISTS {db}.clicks (
  partition UInt16,
  seq UInt64,
  idx UInt32,
  click_id String,
  ts DateTime,
  ts_ms UInt16,
  code String,
  brand_id String,
  affiliate_id String,
  campaign String,
  sub1 String, sub2 String, sub3 String, sub4 String, sub5 String,
  sub6 String, sub7 String, sub8 String, sub9 String, sub10 String,
  ip String,
  country String,
  user_agent String,
  referer String,
  bot UInt8,
  geo_blocked UInt8,
  is_unique UInt8,
  affiliate_status Enum8('active' = 1, 'paused' = 2, 'blocked' = 3),
  edge String,
  batch_seq UInt64
) ENGINE = MergeTree() PARTITION BY toYYYYMM(ts) ORDER BY (partition, seq, idx);

-- Per-minute counters per brand, affiliate, sub1, campaign and country. Filled by the
-- materialized view below from the same INSERT as the raw rows, so the two can never disagree.
CREATE TABLE IF NOT EXISTS {db}.clicks_minute (
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
) ENGINE = SummingMergeTree() PARTITION BY toYYYYMM(minute) ORDER BY (brand_id, affiliate_id, minute, sub1, campaign, country);

CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.clicks_minute_mv TO {db}.clicks_minute AS
SELECT
  toStartOfMinute(ts) AS minute,
  brand_id,
  affiliate_id,
  sub1,
  campaign,
  country,
  count() AS clicks,
  sum(is_unique) AS unique_clicks,
  sum(bot) AS bot_clicks,
  sum(geo_blocked) AS geo_blocked_clicks
FROM {db}.clicks
GROUP BY minute, brand_id, affiliate_id, sub1, campaign, country;

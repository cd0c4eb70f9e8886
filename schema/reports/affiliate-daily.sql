-- affiliate-daily: one row per day (in the report's time zone), brand and affiliate.
-- Parameters: from, to (inclusive days in tz), tz (IANA), brand and affiliate ('' = all).
-- Clicks come from click_minutes, conversions and money from event_minutes; both are sums of the
-- raw logs' rows, so every figure can be recomputed from `clicks` and `events`. Money is exact
-- decimal text; organic players appear under affiliate_id ''. Aliases name the sums (ClickHouse
-- aliases are global), so conversion_rate reads them directly.
-- cpa, revshare and commission (all kinds, sub-affiliate lines included) come from the commission
-- ledger: each line's amount at its latest version, rejected lines left out, on the day of its
-- created_at in tz; a reversal is a line of its own with a negative amount, on the chargeback's day.
SELECT
  day,
  brand_id,
  affiliate_id,
  sum(clicks) AS clicks,
  sum(unique_clicks) AS unique_clicks,
  sum(bot_clicks) AS bot_clicks,
  sum(geo_blocked_clicks) AS geo_blocked_clicks,
  sum(registrations) AS registrations,
  sum(ftds) AS ftds,
  toString(sum(ftd_amount)) AS ftd_amount,
  sum(deposits) AS deposits,
  toString(sum(deposit_amount)) AS deposit_amount,
  toString(sum(withdrawal_amount)) AS withdrawal_amount,
  toString(sum(ggr)) AS ggr,
  toString(sum(bonus_amount)) AS bonus_amount,
  toString(sum(chargeback_amount)) AS chargeback_amount,
  toString(sum(ngr)) AS ngr,
  if(unique_clicks = 0, 0, round(registrations / unique_clicks, 4)) AS conversion_rate,
  toString(sum(cpa)) AS cpa,
  toString(sum(revshare)) AS revshare,
  toString(sum(commission)) AS commission
FROM
(
  SELECT
    toString(toDate(minute, {tz:String})) AS day, brand_id, affiliate_id,
    clicks, unique_clicks, bot_clicks, geo_blocked_clicks,
    toUInt64(0) AS registrations, toUInt64(0) AS ftds, toDecimal64(0, 4) AS ftd_amount, toUInt64(0) AS deposits,
    toDecimal64(0, 4) AS deposit_amount, toDecimal64(0, 4) AS withdrawal_amount, toDecimal64(0, 4) AS ggr,
    toDecimal64(0, 4) AS bonus_amount, toDecimal64(0, 4) AS chargeback_amount, toDecimal64(0, 4) AS ngr,
    toDecimal64(0, 4) AS cpa, toDecimal64(0, 4) AS revshare, toDecimal64(0, 4) AS commission
  FROM click_minutes
  WHERE minute >= toDateTime({from:Date}, {tz:String}) AND minute < toDateTime({to:Date} + 1, {tz:String})
    AND ({brand:String} = '' OR brand_id = {brand:String})
    AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
  UNION ALL
  SELECT
    toString(toDate(minute, {tz:String})) AS day, brand_id, affiliate_id,
    toUInt64(0) AS clicks, toUInt64(0) AS unique_clicks, toUInt64(0) AS bot_clicks, toUInt64(0) AS geo_blocked_clicks,
    registrations, ftds, ftd_amount, deposits, deposit_amount, withdrawal_amount, ggr, bonus_amount, chargeback_amount, ngr,
    toDecimal64(0, 4) AS cpa, toDecimal64(0, 4) AS revshare, toDecimal64(0, 4) AS commission
  FROM event_minutes
  WHERE minute >= toDateTime({from:Date}, {tz:String}) AND minute < toDateTime({to:Date} + 1, {tz:String})
    AND ({brand:String} = '' OR brand_id = {brand:String})
    AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
  UNION ALL
  SELECT
    toString(toDate(line_created, {tz:String})) AS day, brand_id, affiliate_id,
    toUInt64(0) AS clicks, toUInt64(0) AS unique_clicks, toUInt64(0) AS bot_clicks, toUInt64(0) AS geo_blocked_clicks,
    toUInt64(0) AS registrations, toUInt64(0) AS ftds, toDecimal64(0, 4) AS ftd_amount, toUInt64(0) AS deposits,
    toDecimal64(0, 4) AS deposit_amount, toDecimal64(0, 4) AS withdrawal_amount, toDecimal64(0, 4) AS ggr,
    toDecimal64(0, 4) AS bonus_amount, toDecimal64(0, 4) AS chargeback_amount, toDecimal64(0, 4) AS ngr,
    if(line_kind = 'cpa', line_amount, toDecimal64(0, 4)) AS cpa,
    if(line_kind = 'revshare', line_amount, toDecimal64(0, 4)) AS revshare,
    line_amount AS commission
  FROM
  (
    SELECT id, brand_id, affiliate_id,
      argMax(kind, version) AS line_kind, argMax(amount, version) AS line_amount,
      argMax(status, version) AS line_status, argMax(created_at, version) AS line_created
    FROM commission_ledger
    WHERE created_at >= toDateTime({from:Date}, {tz:String}) AND created_at < toDateTime({to:Date} + 1, {tz:String})
      AND ({brand:String} = '' OR brand_id = {brand:String})
      AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
    GROUP BY id, brand_id, affiliate_id
    HAVING line_status != 'rejected'
  )
)
GROUP BY day, brand_id, affiliate_id
ORDER BY day, brand_id, affiliate_id

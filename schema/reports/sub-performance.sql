-- sub-performance: one row per brand, affiliate and sub-ID (sub1) over the whole range, with the
-- funnel (clicks → registrations → FTDs) and the money, to find the sub-IDs that convert — or
-- that convert suspiciously well. Parameters as affiliate-daily.
SELECT
  brand_id,
  affiliate_id,
  sub1,
  sum(clicks) AS clicks,
  sum(unique_clicks) AS unique_clicks,
  sum(bot_clicks) AS bot_clicks,
  sum(registrations) AS registrations,
  sum(ftds) AS ftds,
  toString(sum(ftd_amount)) AS ftd_amount,
  toString(sum(deposit_amount)) AS deposit_amount,
  toString(sum(ngr)) AS ngr,
  if(unique_clicks = 0, 0, round(registrations / unique_clicks, 4)) AS conversion_rate,
  if(registrations = 0, 0, round(ftds / registrations, 4)) AS ftd_rate
FROM
(
  SELECT brand_id, affiliate_id, sub1, clicks, unique_clicks, bot_clicks,
    toUInt64(0) AS registrations, toUInt64(0) AS ftds, toDecimal64(0, 4) AS ftd_amount, toDecimal64(0, 4) AS deposit_amount, toDecimal64(0, 4) AS ngr
  FROM click_minutes
  WHERE minute >= toDateTime({from:Date}, {tz:String}) AND minute < toDateTime({to:Date} + 1, {tz:String})
    AND ({brand:String} = '' OR brand_id = {brand:String})
    AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
  UNION ALL
  SELECT brand_id, affiliate_id, sub1, toUInt64(0) AS clicks, toUInt64(0) AS unique_clicks, toUInt64(0) AS bot_clicks,
    registrations, ftds, ftd_amount, deposit_amount, ngr
  FROM event_minutes
  WHERE minute >= toDateTime({from:Date}, {tz:String}) AND minute < toDateTime({to:Date} + 1, {tz:String})
    AND ({brand:String} = '' OR brand_id = {brand:String})
    AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
)
GROUP BY brand_id, affiliate_id, sub1
ORDER BY brand_id, affiliate_id, sub1

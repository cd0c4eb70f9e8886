-- affiliate-daily: one row per day (in the report's time zone), brand and affiliate.
-- Parameters: from, to (inclusive days in tz), tz (IANA), brand and affiliate ('' = all).
-- Reads the per-minute aggregates, so every figure equals the sum of the raw click log's rows.
SELECT
  toString(toDate(minute, {tz:String})) AS day,
  brand_id,
  affiliate_id,
  sum(clicks) AS clicks,
  sum(unique_clicks) AS unique_clicks,
  sum(bot_clicks) AS bot_clicks,
  sum(geo_blocked_clicks) AS geo_blocked_clicks
FROM clicks_minute
WHERE minute >= toDateTime({from:Date}, {tz:String})
  AND minute < toDateTime({to:Date} + 1, {tz:String})
  AND ({brand:String} = '' OR brand_id = {brand:String})
  AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
GROUP BY day, brand_id, affiliate_id
ORDER BY day, brand_id, affiliate_id

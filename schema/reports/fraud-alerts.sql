-- fraud-alerts: the alerts raised (docs/fraud.md) per day (in {tz}), brand, affiliate, sub-ID, rule and
-- action: how many, how many players they name, and their mean score. Parameters as affiliate-daily.
SELECT
  toString(toDate(ts, {tz:String})) AS day,
  brand_id,
  affiliate_id,
  sub_id,
  rule,
  action,
  uniqExact(id) AS alerts,
  uniqExactIf(player_id, player_id != '') AS players,
  round(avg(score), 1) AS avg_score
FROM fraud_alerts
WHERE ts >= toDateTime({from:Date}, {tz:String}) AND ts < toDateTime({to:Date} + 1, {tz:String})
  AND ({brand:String} = '' OR brand_id = {brand:String})
  AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
GROUP BY day, brand_id, affiliate_id, sub_id, rule, action
ORDER BY day, brand_id, affiliate_id, sub_id, rule, action

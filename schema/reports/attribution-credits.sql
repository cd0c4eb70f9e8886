-- attribution-credits: one row per day (in the report's time zone), brand and affiliate with the
-- affiliate's weighted share of its players: every attributed player's conversions and revenue
-- shared between the touches its brand's attribution rules credited (last and first click: one
-- touch, all of it; linear and position-based: several). Parameters as affiliate-daily.
-- registrations and ftds are weighted counts (decimal text, 4 places: a touch with 33.34% of a
-- registration counts 0.3334); ftd_amount, deposit_amount and ngr are money, split per event by the
-- largest-remainder method at 0.0001, so the affiliates' parts of a day sum exactly to the whole.
-- Organic players have no credits and do not appear. Counts are summed in basis points and divided
-- once, exactly (x / 10000 has at most 4 decimals).
SELECT
  day,
  brand_id,
  affiliate_id,
  toString(toDecimal64(sum(registrations_bp), 4) / 10000) AS registrations,
  toString(toDecimal64(sum(ftds_bp), 4) / 10000) AS ftds,
  toString(toDecimal64(sum(ftd_amount), 4)) AS ftd_amount,
  toString(toDecimal64(sum(deposit_amount), 4)) AS deposit_amount,
  toString(toDecimal64(sum(ngr), 4)) AS ngr
FROM
(
  SELECT toString(toDate(minute, {tz:String})) AS day, brand_id, affiliate_id, registrations_bp, ftds_bp, ftd_amount, deposit_amount, ngr
  FROM credit_minutes
  WHERE minute >= toDateTime({from:Date}, {tz:String}) AND minute < toDateTime({to:Date} + 1, {tz:String})
    AND ({brand:String} = '' OR brand_id = {brand:String})
    AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
)
GROUP BY day, brand_id, affiliate_id
ORDER BY day, brand_id, affiliate_id

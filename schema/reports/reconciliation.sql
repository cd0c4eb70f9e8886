-- reconciliation: the real-time layer against the platform's imported revenue (revenue_current), per
-- brand, day and affiliate, each day row followed by the players that explain its difference.
-- Run once per brand: brand_tz and brand_threshold_pct are its catalog settings. Days are the
-- brand's calendar days — the imported figures are — from and to included; tz is not used. Only
-- the days the brand has imported revenue for are compared.
-- Per player and day: live = the sums of its events' ggr, bonus_cost and ngr on that day in the
-- brand's zone; imported = its row of revenue_current. A player's affiliate is its attribution (its
-- registration's affiliate_id); a player the tracker never registered is under ''.
-- Each player-day is read twice (lvl): into its affiliate's day row (player_id ''), and as a row of
-- its own, kept when the layers differ for it (presence: live_only, imported_only or differs).
-- Differences are imported − live. A row is flagged when |ngr_diff| exceeds brand_threshold_pct % of
-- |imported_ngr|: with imported_ngr 0, any difference (ngr_diff_pct is then null). Money stays
-- Decimal128 throughout: 18.16 multiplies a Decimal64 by a Decimal128 at the wrong scale.
-- Inner names differ from the output's: ClickHouse 18.16 aliases are global.
SELECT
  brand_id,
  toString(d) AS day,
  aff AS affiliate_id,
  who AS player_id,
  pres AS presence,
  toString(s_lg) AS live_ggr,
  toString(s_ig) AS imported_ggr,
  toString(s_ig - s_lg) AS ggr_diff,
  toString(s_lb) AS live_bonuses,
  toString(s_ib) AS imported_bonuses,
  toString(s_ib - s_lb) AS bonuses_diff,
  toString(s_ln) AS live_ngr,
  toString(s_in) AS imported_ngr,
  toString(s_in - s_ln) AS ngr_diff,
  if(s_in = 0 AND s_in != s_ln, NULL, if(s_in = 0, 0, round(toFloat64(s_in - s_ln) / toFloat64(abs(s_in)) * 100, 4))) AS ngr_diff_pct,
  toString(toDecimal128({brand_threshold_pct:String}, 2)) AS threshold_pct,
  toUInt8(abs(s_in - s_ln) * toDecimal128(100, 0) > toDecimal128({brand_threshold_pct:String}, 2) * abs(s_in)) AS flagged,
  n_explaining AS players
FROM
(
  SELECT
    brand_id, d, aff, who, pres,
    sum(p_lg) AS s_lg, sum(p_ig) AS s_ig, sum(p_lb) AS s_lb, sum(p_ib) AS s_ib, sum(p_ln) AS s_ln, sum(p_in) AS s_in,
    countIf(explains) AS n_explaining
  FROM
  (
    SELECT
      brand_id, d, aff, p_lg, p_ig, p_lb, p_ib, p_ln, p_in,
      p_lg != p_ig OR p_lb != p_ib OR p_ln != p_in AS explains,
      arrayJoin([0, 1]) AS lvl,
      if(lvl = 0, '', player_id) AS who,
      if(lvl = 0, '', multiIf(p_imported = 0, 'live_only', p_live = 0, 'imported_only', 'differs')) AS pres
    FROM
    (
      SELECT
        brand_id, d, player_id,
        sum(lg) AS p_lg, sum(ig) AS p_ig, sum(lb) AS p_lb, sum(ib) AS p_ib, sum(ln) AS p_ln, sum(inn) AS p_in,
        max(in_live) AS p_live, max(in_imported) AS p_imported
      FROM
      (
        SELECT
          brand_id, toDate(ts, {brand_tz:String}) AS d, player_id,
          ggr AS lg, toDecimal64(0, 4) AS ig, bonus_cost AS lb, toDecimal64(0, 4) AS ib, ngr AS ln, toDecimal64(0, 4) AS inn,
          toUInt8(1) AS in_live, toUInt8(0) AS in_imported
        FROM events
        WHERE brand_id = {brand:String}
          AND ts >= toDateTime({from:Date}, {brand_tz:String}) AND ts < toDateTime({to:Date} + 1, {brand_tz:String})
          AND (ggr != 0 OR bonus_cost != 0 OR ngr != 0)
          AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
          AND d IN (SELECT day FROM revenue_current WHERE brand_id = {brand:String} AND day >= {from:Date} AND day <= {to:Date})
        UNION ALL
        SELECT
          brand_id, day AS d, player_id,
          toDecimal64(0, 4) AS lg, ggr AS ig, toDecimal64(0, 4) AS lb, bonuses AS ib, toDecimal64(0, 4) AS ln, ngr AS inn,
          toUInt8(0) AS in_live, toUInt8(1) AS in_imported
        FROM revenue_current
        WHERE brand_id = {brand:String} AND day >= {from:Date} AND day <= {to:Date}
      )
      GROUP BY brand_id, d, player_id
    )
    ANY LEFT JOIN
    (
      SELECT player_id, any(affiliate_id) AS aff
      FROM events
      WHERE brand_id = {brand:String} AND type = 'registration'
      GROUP BY player_id
    ) USING player_id
    WHERE {affiliate:String} = '' OR aff = {affiliate:String}
  )
  WHERE lvl = 0 OR explains
  GROUP BY brand_id, d, aff, who, pres
)
ORDER BY brand_id, day, affiliate_id, player_id

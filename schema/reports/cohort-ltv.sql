-- cohort-ltv: players grouped by registration month (cohort, YYYY-MM in the brand's time zone) and
-- affiliate, with what they brought month by month since: month 0 is the registration month, then
-- one row per month up to the group's last month with activity, empty months included.
-- Run once per brand (brand_tz: its catalog zone). from and to pick the players by the brand day of
-- their first registration; their activity counts from from on, to now. tz is not used.
-- A player's affiliate is its registration's (attribution binds for life); organic players are under ''.
-- deposits, deposit_amount: the live deposits. ngr: per player and day, the platform's imported NGR
-- (revenue_current) where it has sent that day for the player, else the live NGR of its events.
-- Activity stamped before the registration (events that waited for it) counts in month 0.
-- cumulative_*: sums of months 0 to this one. Money is carried through the month arrays in Int64
-- units of 1/10,000 (exact): ClickHouse 18.16 crashes on arrays of Decimal128.
-- Inner names differ from the output's: ClickHouse 18.16 aliases are global.
SELECT
  {brand:String} AS brand_id,
  cohort,
  aff AS affiliate_id,
  n_players AS players,
  m AS month,
  arrayElement(g_active, indexOf(g_months, m)) AS active_players,
  arrayElement(g_deposits, indexOf(g_months, m)) AS deposits,
  toString(toDecimal128(arrayElement(g_dep_u, indexOf(g_months, m)), 4) / 10000) AS deposit_amount,
  toString(toDecimal128(arrayElement(g_ngr_u, indexOf(g_months, m)), 4) / 10000) AS ngr,
  toString(toDecimal128(arraySum(arrayFilter((u, k) -> k <= m, g_dep_u, g_months)), 4) / 10000) AS cumulative_deposit_amount,
  toString(toDecimal128(arraySum(arrayFilter((u, k) -> k <= m, g_ngr_u, g_months)), 4) / 10000) AS cumulative_ngr
FROM
(
  SELECT
    cohort, aff,
    max(mon) AS last_month,
    sumIf(members, mon = 0) AS n_players,
    groupArray(mon) AS g_months,
    groupArray(active) AS g_active,
    groupArray(deps) AS g_deposits,
    groupArray(toInt64(dep_amount * 10000)) AS g_dep_u,
    groupArray(toInt64(ngr_sum * 10000)) AS g_ngr_u
  FROM
  (
    SELECT
      cohort, aff, mon,
      uniqExactIf(player_id, registers = 1) AS members,
      uniqExactIf(player_id, p_deps > 0 OR p_ngr != 0) AS active,
      sum(p_deps) AS deps,
      sum(p_dep_amount) AS dep_amount,
      sum(p_ngr) AS ngr_sum
    FROM
    (
      SELECT
        player_id, cohort, aff, registers, p_deps, p_dep_amount, p_ngr,
        toUInt64(greatest(toInt64(toRelativeMonthNum(d)) - toInt64(reg_month), 0)) AS mon
      FROM
      (
        SELECT
          player_id, d,
          max(is_reg) AS registers,
          sum(dep) AS p_deps,
          sum(dep_amt) AS p_dep_amount,
          if(max(in_imported) = 1, sum(imported_ngr), sum(live_ngr)) AS p_ngr
        FROM
        (
          SELECT
            player_id, toDate(ts, {brand_tz:String}) AS d,
            toUInt8(type = 'registration') AS is_reg, toUInt64(type = 'deposit') AS dep,
            if(type = 'deposit', amount, toDecimal64(0, 4)) AS dep_amt,
            ngr AS live_ngr, toDecimal64(0, 4) AS imported_ngr, toUInt8(0) AS in_imported
          FROM events
          WHERE brand_id = {brand:String} AND ts >= toDateTime({from:Date}, {brand_tz:String})
            AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
          UNION ALL
          SELECT
            player_id, day AS d,
            toUInt8(0) AS is_reg, toUInt64(0) AS dep, toDecimal64(0, 4) AS dep_amt,
            toDecimal64(0, 4) AS live_ngr, ngr AS imported_ngr, toUInt8(1) AS in_imported
          FROM revenue_current
          WHERE brand_id = {brand:String} AND day >= {from:Date}
        )
        GROUP BY player_id, d
      )
      ANY INNER JOIN
      (
        SELECT
          player_id,
          min(ts) AS reg_ts,
          argMin(affiliate_id, ts) AS aff,
          formatDateTime(reg_ts, '%Y-%m', {brand_tz:String}) AS cohort,
          toRelativeMonthNum(reg_ts, {brand_tz:String}) AS reg_month
        FROM events
        WHERE brand_id = {brand:String} AND type = 'registration'
        GROUP BY player_id
        HAVING reg_ts >= toDateTime({from:Date}, {brand_tz:String}) AND reg_ts < toDateTime({to:Date} + 1, {brand_tz:String})
          AND ({affiliate:String} = '' OR aff = {affiliate:String})
      ) USING player_id
    )
    GROUP BY cohort, aff, mon
  )
  GROUP BY cohort, aff
)
ARRAY JOIN range(toUInt64(last_month) + 1) AS m
ORDER BY cohort, affiliate_id, month

-- commission-statement: per brand, affiliate and period (YYYY-MM, in the brand's time zone), every
-- commission line as it stands — its latest version in the ledger — and the running figures of the
-- periods still open. Parameters as affiliate-daily; from and to pick the periods of their months,
-- tz only renders created_at and updated_at.
-- A line: kind, player, amount (negative for a reversal), status, reason, plan_version, the NGR a
-- RevShare line was computed from, the NGR held apart (held or uncommissionable activity: from its
-- period's last figures in revshare_accruals, whose id is the line's), carry_in and carry_out
-- (≤ 0: the negative balance brought in and carried out), open = 0.
-- An open period (one row per plan version): status 'open', open = 1, amount what it would pay if it
-- closed now, carry_out '0.0000' (known at the close), created_at its latest change.
-- Inner aliases differ from the column names: ClickHouse 18.16 aliases are global, so
-- `argMax(status, version) AS status` would read its own result.
SELECT *
FROM
(
  SELECT
    brand_id,
    affiliate_id,
    period,
    id,
    line_kind AS kind,
    line_player AS player_id,
    line_status AS status,
    line_reason AS reason,
    toString(line_amount) AS amount,
    line_currency AS currency,
    line_plan AS plan_version,
    toString(line_ngr) AS ngr,
    toString(held) AS held_ngr,
    toString(line_carry_in) AS carry_in,
    toString(line_carry_out) AS carry_out,
    line_pct AS pct,
    line_reversal_of AS reversal_of,
    line_source AS source_event_id,
    toString(line_created, {tz:String}) AS created_at,
    toString(line_updated, {tz:String}) AS updated_at,
    line_version AS version,
    is_open AS open
  FROM
  (
    SELECT
      brand_id, affiliate_id, period, id,
      argMax(kind, version) AS line_kind,
      argMax(player_id, version) AS line_player,
      argMax(status, version) AS line_status,
      argMax(reason, version) AS line_reason,
      argMax(amount, version) AS line_amount,
      argMax(currency, version) AS line_currency,
      argMax(plan_version, version) AS line_plan,
      argMax(ngr, version) AS line_ngr,
      argMax(carry_in, version) AS line_carry_in,
      argMax(carry_out, version) AS line_carry_out,
      argMax(pct, version) AS line_pct,
      argMax(reversal_of, version) AS line_reversal_of,
      argMax(source_event_id, version) AS line_source,
      argMax(created_at, version) AS line_created,
      argMax(updated_at, version) AS line_updated,
      max(version) AS line_version,
      toUInt8(0) AS is_open
    FROM commission_ledger
    WHERE period >= substring(toString({from:Date}), 1, 7) AND period <= substring(toString({to:Date}), 1, 7)
      AND ({brand:String} = '' OR brand_id = {brand:String})
      AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
    GROUP BY brand_id, affiliate_id, period, id
  )
  ANY LEFT JOIN
  (
    SELECT id, argMax(held_ngr, version) AS held
    FROM revshare_accruals
    WHERE period >= substring(toString({from:Date}), 1, 7) AND period <= substring(toString({to:Date}), 1, 7)
      AND ({brand:String} = '' OR brand_id = {brand:String})
      AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
    GROUP BY id
  ) USING id
  UNION ALL
  SELECT
    brand_id,
    affiliate_id,
    period,
    id,
    'revshare' AS kind,
    '' AS player_id,
    'open' AS status,
    '' AS reason,
    toString(open_amount) AS amount,
    open_currency AS currency,
    open_plan AS plan_version,
    toString(open_ngr) AS ngr,
    toString(open_held) AS held_ngr,
    toString(open_carry_in) AS carry_in,
    '0.0000' AS carry_out,
    open_pct AS pct,
    '' AS reversal_of,
    '' AS source_event_id,
    toString(open_at, {tz:String}) AS created_at,
    toString(open_at, {tz:String}) AS updated_at,
    toUInt32(0) AS version,
    toUInt8(1) AS open
  FROM
  (
    SELECT
      brand_id, affiliate_id, period, id,
      argMax(amount, version) AS open_amount,
      argMax(currency, version) AS open_currency,
      argMax(plan_version, version) AS open_plan,
      argMax(ngr, version) AS open_ngr,
      argMax(held_ngr, version) AS open_held,
      argMax(carry_in, version) AS open_carry_in,
      argMax(pct, version) AS open_pct,
      argMax(at, version) AS open_at,
      argMax(closed, version) AS is_closed
    FROM revshare_accruals
    WHERE period >= substring(toString({from:Date}), 1, 7) AND period <= substring(toString({to:Date}), 1, 7)
      AND ({brand:String} = '' OR brand_id = {brand:String})
      AND ({affiliate:String} = '' OR affiliate_id = {affiliate:String})
    GROUP BY brand_id, affiliate_id, period, id
    HAVING is_closed = 0
  )
)
ORDER BY brand_id, affiliate_id, period, open, created_at, id

-- Outbound postbacks (docs/commissions.md, “Outbound postbacks”).

-- Every attempt to tell an affiliate about a status change of a commission line, as the dispatcher
-- made it: `attempt` counts a job's requests from 1 (0: a row without a request — `skipped`, the
-- affiliate has no postbackUrl, or `gave_up` while the endpoint was disabled); `status_code` 0 when
-- no answer came. Rows are inserted in batches and a batch may be inserted again after an insert
-- that failed late: the sorting key is the attempt's identity, so a row written twice is one row
-- after merges (and at once for readers using FINAL, as the API does). Another attempt of the same
-- number (a redelivery after a crash) differs in its time and stays a row of its own.
CREATE TABLE IF NOT EXISTS {db}.postback_attempts (
  at DateTime,
  at_ms UInt16,
  job_id String,
  commission_id String,
  version UInt32,
  brand_id String,
  affiliate_id String,
  status String,
  url String,
  status_code UInt16,
  latency_ms UInt32,
  error String,
  attempt UInt16,
  result String
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(at) ORDER BY (affiliate_id, commission_id, version, attempt, at, at_ms);

-- Endpoints disabled after consecutive failures (actor `dispatcher`) and enabled again by an
-- operator (`admin`): who, when, why, and the failures counted at the time.
CREATE TABLE IF NOT EXISTS {db}.postback_endpoint_events (
  at DateTime,
  at_ms UInt16,
  affiliate_id String,
  event String,
  actor String,
  reason String,
  failures UInt32,
  last_error String
) ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMM(at) ORDER BY (affiliate_id, at, at_ms, event);

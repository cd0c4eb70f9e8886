/**
 * Latency summaries of the event benchmarks, computed from every sample rather than a histogram:
 * the samples are few (one per frame or per probe), and a p99 over a hundred probes should be the
 * measured value, not a bucket boundary. A process's own histograms (its /metrics) are known only
 * by bucket: their quantiles are bucket bounds.
 */

/** p50, p99 and max of `samples` (ms), nearest-rank; zeros when there are none. */
export function latencySummary(samples: readonly number[]): { p50: number; p99: number; max: number } {
  if (samples.length === 0) return { p50: 0, p99: 0, max: 0 };
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  return { p50: rank(0.5), p99: rank(0.99), max: sorted[sorted.length - 1] as number };
}

/**
 * The `q` quantile (0 < q ≤ 1) of a histogram's cumulative `buckets` (increasing `le`, the last
 * `+Inf`), at bucket resolution: the upper bound of the first bucket holding the nearest-rank
 * observation — "at most this" — with no interpolation inside the bucket. Infinity when it lies
 * beyond the last finite bound; undefined when nothing was observed.
 */
export function bucketQuantile(buckets: readonly { le: number; count: number }[], q: number): number | undefined {
  const total = buckets[buckets.length - 1]?.count ?? 0;
  if (total === 0) return undefined;
  const rank = Math.max(1, Math.ceil(q * total));
  return (buckets.find((b) => b.count >= rank) as { le: number }).le;
}

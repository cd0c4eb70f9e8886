/**
 * The live counters' contract between workers (who write them) and edges (who serve them): one
 * Redis hash per affiliate and UTC day, one field `<partition>:<counter>` per partition.
 */

/** Counter names, in the order they are published. */
export const LIVE_COUNTS = ['clicks', 'unique_clicks', 'bot_clicks', 'geo_blocked_clicks', 'registrations', 'ftds', 'deposits'] as const;
/** Money counter names. */
export const LIVE_MONEY = ['ftd_amount', 'deposit_amount', 'ngr'] as const;

/** Redis key of an affiliate's live hash for a UTC day (`YYYY-MM-DD`). */
export function liveKey(namespace: string, affiliateId: string, day: string): string {
  return `${namespace}:live:${affiliateId}:${day}`;
}


/**
 * Click ids (SPEC §4): RFC 9562 UUIDv7 in canonical text, whose 12 `rand_a` bits carry
 * `shard(affiliateId)` so that any later event quoting the click id can be routed to the
 * partition that owns the click without a lookup.
 */
import { v7, stringify, validate, version } from 'uuid';
import { SHARD_COUNT } from './shard.ts';

const bytes = new Uint8Array(16);

/**
 * A new click id for a click on a link of the affiliate whose shard is `shardNo`. Time-sortable
 * to the millisecond; `rand_b` (62 bits) keeps ids unique. `msecs` is for tests and replays.
 */
export function newClickId(shardNo: number, msecs?: number): string {
  v7(msecs === undefined ? undefined : { msecs }, bytes);
  // The library fills rand_a with a monotonic counter; the contract gives those bits to the shard.
  bytes[6] = 0x70 | (shardNo >>> 8);
  bytes[7] = shardNo & 0xff;
  return stringify(bytes);
}

/** True when `id` is a canonical UUIDv7 (lower-case, as we emit them). */
export function isClickId(id: string): boolean {
  return id.length === 36 && validate(id) && version(id) === 7 && id === id.toLowerCase();
}

/** The shard carried in a click id's `rand_a` bits, or -1 for something that is not a UUIDv7. */
export function shardOfClickId(id: string): number {
  if (!isClickId(id)) return -1;
  const s = parseInt(id.slice(15, 18), 16);
  return s < SHARD_COUNT ? s : -1;
}

/** The millisecond timestamp of a click id. */
export function timeOfClickId(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

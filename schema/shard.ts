/**
 * The one sharding function (docs/architecture.md, “Partitions”). Everything that routes by key — the edge choosing a
 * JetStream subject, the click id's shard bits, a worker finding an actor's partition — calls
 * these and nothing else, so a key lands on the same partition everywhere.
 */

/** Number of shards; the click id has 12 spare bits, so this can never grow. */
export const SHARD_COUNT = 4096;

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

/**
 * FNV-1a, 32 bit, over the UTF-8 bytes of `key`. Chosen because it is fixed by a public spec
 * (golden values are checkable anywhere), cheap on short ids, and needs no library.
 */
export function hash32(key: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c >= 0x80) return hashBytes(Buffer.from(key, 'utf8'));
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  return h >>> 0;
}

function hashBytes(bytes: Uint8Array): number {
  let h = FNV_OFFSET;
  for (const b of bytes) h = Math.imul(h ^ b, FNV_PRIME);
  return h >>> 0;
}

/** `shard(key)` = hash32(key) mod 4096. */
export function shard(key: string): number {
  return hash32(key) % SHARD_COUNT;
}

/** The partition of a shard, for a partition count that is a power of two (validated at boot). */
export function partitionOfShard(shardNo: number, partitions: number): number {
  return shardNo & (partitions - 1);
}

/** `partition(key)` = shard(key) mod P. */
export function partitionOf(key: string, partitions: number): number {
  return partitionOfShard(shard(key), partitions);
}

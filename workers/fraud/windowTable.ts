/**
 * Sliding-window counters for many keys in flat typed arrays (docs/architecture.md, “Principles”, 6: windows are
 * ring buckets with bounded memory). A fraud window must hold a million distinct IPs in well
 * under 200 bytes each; a `Map` of small objects costs several times that, so every key lives in
 * one open-addressing slot: a 64-bit hash of the key, the number of its newest bucket, and a ring
 * of `buckets` counts. Keys whose newest bucket has left the window are idle; their slots are
 * reused, and dropped when the table is rebuilt (so memory follows the keys active in the window).
 *
 * Keys are identified by two independent 32-bit hashes: two different keys share a slot only when
 * both collide (about 1 in 2^64 per pair; with a million keys, about once in 10^7 tables).
 * Time is the caller's event time; nothing here reads the clock.
 */

/** Size and shape of a table. */
export interface WindowShape {
  /** Width of one bucket, ms. */
  bucketMs: number;
  /** Buckets in the window: the window is `bucketMs × buckets` long. */
  buckets: number;
}

/** A table's state as plain data (for snapshots). */
export interface WindowSnapshot extends WindowShape {
  capacity: number;
  latest: number;
  hi: string;
  lo: string;
  head: string;
  counts: string;
}

const MIN_CAPACITY = 8;
const MAX_LOAD = 0.7;

/** FNV-1a over UTF-16 code units; `seed` picks an independent hash. */
function hash(key: string, seed: number): number {
  let h = seed;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  // Final avalanche (murmur3 fmix32), so keys differing only in their last characters spread.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const b64 = (a: Uint32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
const fromB64 = (s: string) => {
  const buf = Buffer.from(s, 'base64');
  const out = new Uint32Array(buf.byteLength / 4);
  Buffer.from(out.buffer).set(buf);
  return out;
};

/** Sliding-window counters keyed by string. */
export class WindowTable {
  readonly bucketMs: number;
  readonly buckets: number;
  private capacity: number;
  /** Slots in use, idle ones included. */
  private used = 0;
  /** Newest bucket number seen by the table: slots whose head is older than its window are idle. */
  private latest = 0;
  private hi: Uint32Array;
  /** Low hash with bit 0 set, so 0 marks an empty slot. */
  private lo: Uint32Array;
  private head: Uint32Array;
  private counts: Uint32Array;

  constructor(shape: WindowShape, capacity = MIN_CAPACITY) {
    this.bucketMs = shape.bucketMs;
    this.buckets = shape.buckets;
    this.capacity = capacity;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.head = new Uint32Array(capacity);
    this.counts = new Uint32Array(capacity * shape.buckets);
  }

  /** The window's length, ms. */
  get windowMs(): number {
    return this.bucketMs * this.buckets;
  }

  /** Keys with a count inside the window of the newest bucket seen. */
  get activeKeys(): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (this.lo[s] !== 0 && !this.idle(s)) n++;
    return n;
  }

  /** Bytes held by the table's arrays. */
  get byteLength(): number {
    return this.hi.byteLength + this.lo.byteLength + this.head.byteLength + this.counts.byteLength;
  }

  private idle(slot: number): boolean {
    return (this.head[slot] as number) + this.buckets <= this.latest;
  }

  /** The slot of the key, or -1; with `insert`, a new (or reused idle) slot when absent. */
  private find(h: number, l: number, insert: boolean): number {
    const mask = this.capacity - 1;
    let reusable = -1;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const ls = this.lo[s] as number;
      if (ls === 0) {
        if (!insert) return -1;
        if (reusable >= 0) return this.claim(reusable, h, l);
        this.used++;
        return this.claim(s, h, l);
      }
      if (ls === l && this.hi[s] === h) return s;
      // An idle slot can take a new key, but only once the whole chain is known not to hold it.
      if (insert && reusable < 0 && this.idle(s)) reusable = s;
    }
  }

  private claim(slot: number, h: number, l: number): number {
    this.hi[slot] = h;
    this.lo[slot] = l;
    this.head[slot] = 0;
    this.counts.fill(0, slot * this.buckets, (slot + 1) * this.buckets);
    return slot;
  }

  private sumAt(slot: number, bucket: number): number {
    const head = this.head[slot] as number;
    // The window (bucket − buckets, bucket] meets the ring (head − buckets, head].
    const from = Math.max(bucket, head) - this.buckets + 1;
    const to = Math.min(bucket, head);
    let sum = 0;
    for (let j = from; j <= to; j++) sum += this.counts[slot * this.buckets + (j % this.buckets)] as number;
    return sum;
  }

  /**
   * Add `n` at event time `ts`; returns the key's largest count in a window holding `ts`: the one
   * ending at `ts`, or for a late event (older than the key's newest) the one ending at the newest
   * if that holds more. A rule's events reach its actor in arrival order, not event order (a farm's
   * registrations come through as many player partitions): counting a late event only in the
   * window ending at its own time missed a sixth registration made before, and arrived after, one
   * in the next bucket — neither add saw six. Events older than the key's window are ignored.
   */
  add(key: string, ts: number, n = 1): number {
    if (this.used + 1 > this.capacity * MAX_LOAD) this.rebuild();
    const b = Math.floor(ts / this.bucketMs);
    if (b > this.latest) this.latest = b;
    const slot = this.find(hash(key, 0x811c9dc5), (hash(key, 0x2f3a9b17) | 1) >>> 0, true);
    const base = slot * this.buckets;
    const head = this.head[slot] as number;
    if (head === 0) {
      this.head[slot] = b;
    } else if (b > head) {
      for (let j = head + 1; j <= Math.min(b, head + this.buckets); j++) this.counts[base + (j % this.buckets)] = 0;
      this.head[slot] = b;
    } else if (b <= head - this.buckets) {
      return this.sumAt(slot, b);
    }
    this.counts[base + (b % this.buckets)] = (this.counts[base + (b % this.buckets)] as number) + n;
    const newest = this.head[slot] as number;
    return b < newest ? Math.max(this.sumAt(slot, b), this.sumAt(slot, newest)) : this.sumAt(slot, b);
  }

  /** The key's count in the window ending at `ts`. */
  sum(key: string, ts: number): number {
    const slot = this.find(hash(key, 0x811c9dc5), (hash(key, 0x2f3a9b17) | 1) >>> 0, false);
    return slot < 0 ? 0 : this.sumAt(slot, Math.floor(ts / this.bucketMs));
  }

  /** Re-insert the active keys into a table sized for them: idle keys go, and the table grows or shrinks. */
  private rebuild(): void {
    const active = this.activeKeys;
    let capacity = MIN_CAPACITY;
    while (active + 1 > capacity * (MAX_LOAD / 2)) capacity *= 2;
    const old = { hi: this.hi, lo: this.lo, head: this.head, counts: this.counts, capacity: this.capacity };
    this.capacity = capacity;
    this.hi = new Uint32Array(capacity);
    this.lo = new Uint32Array(capacity);
    this.head = new Uint32Array(capacity);
    this.counts = new Uint32Array(capacity * this.buckets);
    this.used = 0;
    const mask = capacity - 1;
    for (let s = 0; s < old.capacity; s++) {
      if (old.lo[s] === 0 || (old.head[s] as number) + this.buckets <= this.latest) continue;
      let t = (old.hi[s] as number) & mask;
      while (this.lo[t] !== 0) t = (t + 1) & mask;
      this.hi[t] = old.hi[s] as number;
      this.lo[t] = old.lo[s] as number;
      this.head[t] = old.head[s] as number;
      this.counts.set(old.counts.subarray(s * this.buckets, (s + 1) * this.buckets), t * this.buckets);
      this.used++;
    }
  }

  /** The table as plain data. */
  snapshot(): WindowSnapshot {
    return {
      bucketMs: this.bucketMs, buckets: this.buckets, capacity: this.capacity, latest: this.latest,
      hi: b64(this.hi), lo: b64(this.lo), head: b64(this.head), counts: b64(this.counts),
    };
  }

  /** A table from {@link snapshot}'s data. */
  static restore(s: WindowSnapshot): WindowTable {
    const t = new WindowTable(s, s.capacity);
    t.latest = s.latest;
    t.hi = fromB64(s.hi);
    t.lo = fromB64(s.lo);
    t.head = fromB64(s.head);
    t.counts = fromB64(s.counts);
    for (let i = 0; i < s.capacity; i++) if (t.lo[i] !== 0) t.used++;
    return t;
  }
}

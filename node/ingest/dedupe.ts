/**
 * Ingest-time duplicate detection: the same (brand, event_id) is acknowledged as a duplicate for at
 * least 7 days, by any transport, on any edge, also while its first copy is still being made
 * durable (docs/protocol.md, “6. Idempotency and durability”). Redis keeps the event ids of a
 * brand in one hash per generation of {@link GENERATION_MS} (half the memory span),
 * `<ns>:ev:<brand>:<generation>`, field = event id, value `p` (claimed, in flight) or `1`
 * (durable); a generation's hash expires {@link DEDUPE_TTL_S} after the generation ends.
 *
 * - **Claim** (before publishing, the one round trip a request waits for): one script per batch
 *   looks the ids up in the hashes of the current generation and the two before it, which hold
 *   every id of the last {@link DEDUPE_TTL_S} (and up to one generation more), and marks the
 *   unseen ones `p` in the current hash. Redis runs scripts one at a time, so of two copies sent at
 *   once (pipelined frames, parallel batches, two edges) exactly one is `new`.
 * - An id found `p` is **in flight**: another copy is being published, or its publish failed or its
 *   edge died before it could say so. The caller publishes it again and answers it as a duplicate
 *   once that publish is acknowledged: then it is durable whatever became of the first copy, and
 *   the partitions drop the repeat (workers/runtime/partition.ts). An in-flight answer is therefore
 *   never a promise the cluster cannot keep.
 * - **Confirm** (after JetStream acknowledged): the ids become `1`, so later resends are answered
 *   without publishing. Nothing waits for it: confirmations of the requests of
 *   {@link CONFIRM_DELAY_MS} go to Redis in one script call per brand, off the answer's path.
 * - **Release** (after a failed publish): the batch's own `p` marks are dropped, so the client's
 *   retry is `new` again rather than an in-flight republish. Also off the answer's path; a release
 *   that is lost only turns that retry into a republish.
 *
 * Why hashes rather than one key per id with its own TTL (the earlier layout, two `SET … EX` per
 * id issued from Lua): a field costs half the memory of a key (no expiry entry, no namespaced key
 * name), and the per-id work of a batch is native HMGET/HSET. Measured on 1,000-id batches: Redis
 * 11–12 → 3.7–4.9 CPU-µs per id with the three hashes full, the edge's client 3.6–4.1 → 1.0–1.5.
 * Longer generations would mean fewer lookups but ids kept longer; one day would mean nine
 * lookups per id (8–9 µs measured). The ids travel space-separated in one argument (event ids are
 * printable ASCII without spaces, schema/events.ts): one protocol argument per batch, not per id.
 * Why the claim marks and the confirmation is deferred, rather than a read-only claim and an
 * awaited record after the publish: that was two Redis round trips per request, each a socket
 * write and a wake-up on both sides, the largest single cost of an event request in the edge's
 * profile (docs/architecture.md, “Idempotent ingestion”).
 *
 * This decides the *answer* to the client. Counting once does not depend on it: every partition
 * drops event ids it has applied, and when Redis is unreachable the edge still accepts events and
 * only loses the ability to say "duplicate".
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

/** How long an event id is remembered at least, seconds: the 7 days resends are promised, plus one. */
export const DEDUPE_TTL_S = 8 * 86_400;

/** Span of one hash of ids: ids stay {@link DEDUPE_TTL_S} to 1.5 × that. */
export const GENERATION_MS = (DEDUPE_TTL_S * 1000) / 2;
/** The current hash and the two before it cover the last {@link DEDUPE_TTL_S} at any time. */
const GENERATIONS_CHECKED = 3;

/** The verdict for one event id: `in_flight` ones are published again and answered as duplicates. */
export type Claim = 'new' | 'duplicate' | 'in_flight';

/** How long confirmations gather before they go to Redis in one call per brand. */
export const CONFIRM_DELAY_MS = 20;
/** Confirmations waiting beyond this many ids go at once. */
const CONFIRM_MAX_IDS = 10_000;

// HMGET takes its fields from Lua's stack, which holds some thousands of values: ids go in slices.
const SLICE = 1000;

// HSET KEYS[1] with the (field, value) pairs of `pairs_`, a slice at a time.
const HSET_SLICED = `
local function hset_sliced(key, pairs_)
  for i = 1, #pairs_, ${2 * SLICE} do
    redis.call('HSET', key, unpack(pairs_, i, math.min(i + ${2 * SLICE - 1}, #pairs_)))
  end
end`;

// KEYS: the current hash, then the two before it; ARGV[1]: when the current one expires (unix s);
// ARGV[2]: space-separated ids. Marks the unseen ids 'p' in the current hash. Returns one
// character per id: '0' new (now marked), '1' durable, '2' in flight.
const CLAIM = `${HSET_SLICED}
local ids = {}
for id in string.gmatch(ARGV[2], '%S+') do ids[#ids + 1] = id end
local seen = {}
for _, k in ipairs(KEYS) do
  if redis.call('EXISTS', k) == 1 then
    for i = 1, #ids, ${SLICE} do
      local j = math.min(i + ${SLICE - 1}, #ids)
      local got = redis.call('HMGET', k, unpack(ids, i, j))
      for n = 1, j - i + 1 do
        local v = got[n]
        if v then seen[i + n - 1] = (v == 'p' and seen[i + n - 1] ~= '1') and 'p' or '1' end
      end
    end
  end
end
local out = {}
local marks = {}
for i = 1, #ids do
  local v = seen[i]
  if v == '1' then out[i] = '1'
  elseif v == 'p' then out[i] = '2'
  else
    out[i] = '0'
    marks[#marks + 1] = ids[i]
    marks[#marks + 1] = 'p'
  end
end
if #marks > 0 then
  hset_sliced(KEYS[1], marks)
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
return table.concat(out)`;

// KEYS[1]: the current hash; ARGV[1]: when it expires (unix s); ARGV[2]: space-separated ids, now durable.
const CONFIRM = `${HSET_SLICED}
local pairs_ = {}
for id in string.gmatch(ARGV[2], '%S+') do
  pairs_[#pairs_ + 1] = id
  pairs_[#pairs_ + 1] = '1'
end
if #pairs_ > 0 then
  hset_sliced(KEYS[1], pairs_)
  redis.call('EXPIREAT', KEYS[1], ARGV[1])
end
return #pairs_ / 2`;

// KEYS: the hashes to look in; ARGV[1]: space-separated ids whose publish failed. Drops their
// marks that are still 'p' (a copy published meanwhile made its id '1': that one stays).
const RELEASE = `
local n = 0
for id in string.gmatch(ARGV[1], '%S+') do
  for _, k in ipairs(KEYS) do
    if redis.call('HGET', k, id) == 'p' then
      redis.call('HDEL', k, id)
      n = n + 1
    end
  end
end
return n`;

type WithScripts = Redis & {
  affClaimIds(n: number, ...args: (string | number)[]): Promise<string>;
  affConfirmIds(n: number, ...args: (string | number)[]): Promise<number>;
  affReleaseIds(n: number, ...args: string[]): Promise<number>;
};

/** Ids confirmed and not yet sent to Redis, of one brand and generation. */
interface Confirmations {
  brandId: string;
  generation: number;
  ids: string[];
}

/** Redis-backed event-id claims. */
export class EventDedupe {
  private readonly redis: WithScripts;
  /** By `brand\u0000generation`. */
  private confirming = new Map<string, Confirmations>();
  private confirmTimer: NodeJS.Timeout | undefined;
  private readonly writes = new Set<Promise<unknown>>();

  constructor(
    redis: Redis,
    private readonly namespace: string,
    private readonly log: Logger,
  ) {
    redis.defineCommand('affClaimIds', { lua: CLAIM });
    redis.defineCommand('affConfirmIds', { lua: CONFIRM });
    redis.defineCommand('affReleaseIds', { lua: RELEASE });
    this.redis = redis as WithScripts;
  }

  private hashKey(brandId: string, generation: number): string {
    return `${this.namespace}:ev:${brandId}:${generation}`;
  }

  /** The hashes that hold the ids of the last {@link DEDUPE_TTL_S} at `now`, the current first. */
  private keysAt(brandId: string, now: number): string[] {
    const current = Math.floor(now / GENERATION_MS);
    return Array.from({ length: GENERATIONS_CHECKED }, (_, i) => this.hashKey(brandId, current - i));
  }

  /** When the hash of `generation` expires, unix s. */
  private static expiresAt(generation: number): number {
    return Math.ceil(((generation + 1) * GENERATION_MS) / 1000) + DEDUPE_TTL_S;
  }

  /**
   * The verdict for each id, marking the `new` ones in flight: `duplicate` when it was made durable
   * within the last {@link DEDUPE_TTL_S} (or somewhat longer), `in_flight` when a copy of it was
   * claimed and not (yet) confirmed. Never throws: without Redis everything is `new`.
   */
  async claim(brandId: string, eventIds: readonly string[], now = Date.now()): Promise<Claim[]> {
    if (eventIds.length === 0) return [];
    const keys = this.keysAt(brandId, now);
    try {
      const seen = await this.redis.affClaimIds(keys.length, ...keys, EventDedupe.expiresAt(Math.floor(now / GENERATION_MS)), eventIds.join(' '));
      return eventIds.map((_, i) => {
        const c = seen.charCodeAt(i);
        return c === 0x31 ? 'duplicate' : c === 0x32 ? 'in_flight' : 'new';
      });
    } catch (err) {
      this.log.warn({ err: String(err) }, 'event dedupe unavailable; accepting (partitions still count once)');
      return eventIds.map(() => 'new');
    }
  }

  /**
   * The ids are durable (JetStream acknowledged them): later resends are duplicates. Sent to Redis
   * within {@link CONFIRM_DELAY_MS}, together with the other requests' confirmations; never waited for.
   */
  confirm(brandId: string, eventIds: readonly string[], now = Date.now()): void {
    if (eventIds.length === 0) return;
    const generation = Math.floor(now / GENERATION_MS);
    const k = `${brandId}\u0000${generation}`;
    let c = this.confirming.get(k);
    if (!c) this.confirming.set(k, (c = { brandId, generation, ids: [] }));
    for (const id of eventIds) c.ids.push(id);
    if (c.ids.length >= CONFIRM_MAX_IDS) this.flushConfirmations();
    else this.confirmTimer ??= setTimeout(() => this.flushConfirmations(), CONFIRM_DELAY_MS);
  }

  /** The publish of these claimed ids failed: drop their marks, so the client's retry is new. Never waited for. */
  release(brandId: string, eventIds: readonly string[], now = Date.now()): void {
    if (eventIds.length === 0) return;
    const keys = this.keysAt(brandId, now);
    this.track(this.redis.affReleaseIds(keys.length, ...keys, eventIds.join(' ')), 'event dedupe could not release the claims of a failed publish');
  }

  /** Sends the confirmations gathered so far and resolves once every write begun is answered (a stopping edge, tests). */
  async settled(): Promise<void> {
    this.flushConfirmations();
    while (this.writes.size > 0) await Promise.allSettled([...this.writes]);
  }

  private flushConfirmations(): void {
    clearTimeout(this.confirmTimer);
    this.confirmTimer = undefined;
    const batches = this.confirming;
    if (batches.size === 0) return;
    this.confirming = new Map();
    for (const c of batches.values()) {
      const write = this.redis.affConfirmIds(1, this.hashKey(c.brandId, c.generation), EventDedupe.expiresAt(c.generation), c.ids.join(' '));
      this.track(write, 'event dedupe could not record durable events (their resends will be published again, and counted once)');
    }
  }

  private track(write: Promise<unknown>, failure: string): void {
    const w = write.catch((err: unknown) => this.log.warn({ err: String(err) }, failure)).finally(() => this.writes.delete(w));
    this.writes.add(w);
  }
}

/**
 * The lines of one table for one flush (workers/sink/tsv.ts), kept off the JS heap until the
 * flush writes them.
 *
 * The lines wait up to a flush interval (and longer while ClickHouse is away). Kept as strings,
 * each outlived one or two scavenges of the young generation and was copied by them, then promoted.
 * Written straight into a buffer, whose memory is outside the heap (the collector never copies it),
 * each line's string is garbage at once. Under bench fraud at 1,000 events/s (--trace-gc-nvp, the
 * scavenges of the 40 s of load): 2.27 → 1.80 MB promoted per scavenge, 14.3% → 12.8% of the young
 * generation surviving, 17.7 → 16.0 ms of pause on average.
 *
 * Raw-log tables need each message's lines apart (a retried flush leaves out the messages that
 * landed), so the buffer remembers where each message's lines end.
 */

import type { TsvEncoder } from './tsv.ts';

const INITIAL_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

/** Growable buffer of lines, marked by message. */
export class LineBuffer {
  private buf = Buffer.allocUnsafe(INITIAL_BYTES);
  private used = 0;
  /** Per message appended: its partition, its sequence and where its lines end. */
  private readonly partitions: number[] = [];
  private readonly seqs: number[] = [];
  private readonly ends: number[] = [];

  /** Bytes of lines held. */
  get byteLength(): number {
    return this.used;
  }

  /** Append the lines of `rows`, one message's (`partition`, `seq`), as `tsv` encodes them. */
  append(partition: number, seq: number, rows: readonly object[], tsv: TsvEncoder): void {
    if (rows.length === 0) return;
    for (const r of rows) this.appendLine(tsv.line(r));
    this.mark(partition, seq);
  }

  /** Append lines already made, one message's (`partition`, `seq`). */
  appendLines(partition: number, seq: number, lines: readonly string[]): void {
    if (lines.length === 0) return;
    for (const l of lines) this.appendLine(l);
    this.mark(partition, seq);
  }

  private mark(partition: number, seq: number): void {
    this.partitions.push(partition);
    this.seqs.push(seq);
    this.ends.push(this.used);
  }

  /** Append one line, outside any message (a body that is never filtered). */
  appendLine(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 unit: room for that is room enough, without measuring.
    this.reserve(text.length * 3 + 1);
    this.used += this.buf.write(text, this.used);
    this.buf[this.used++] = NEWLINE;
  }

  /** The lines as one body: all of them, or those of the messages `keep` accepts. */
  body(keep?: (partition: number, seq: number) => boolean): Buffer {
    if (!keep) return this.buf.subarray(0, this.used);
    const parts: Buffer[] = [];
    let start = 0;
    for (let i = 0; i < this.ends.length; i++) {
      const end = this.ends[i] as number;
      if (keep(this.partitions[i] as number, this.seqs[i] as number)) parts.push(this.buf.subarray(start, end));
      start = end;
    }
    return Buffer.concat(parts);
  }

  private reserve(bytes: number): void {
    if (this.used + bytes <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.used + bytes));
    this.buf.copy(grown, 0, 0, this.used);
    this.buf = grown;
  }
}

/** How long a flush makes lines before it lets the event loop run other work, ms. */
const SLICE_MS = 2;

/**
 * The lines of `rows`, made in slices with a turn of the event loop between them: the aggregates
 * and snapshots of a flush are thousands of rows (megabytes, for fraud state), made when the
 * flush reaches their table, while the partitions keep consuming.
 */
export async function slicedLines<R extends object>(rows: Iterable<R>, tsv: TsvEncoder): Promise<Buffer> {
  const out = new LineBuffer();
  let until = performance.now() + SLICE_MS;
  for (const r of rows) {
    out.appendLine(tsv.line(r));
    if (performance.now() < until) continue;
    await new Promise((resolve) => setImmediate(resolve));
    until = performance.now() + SLICE_MS;
  }
  return out.body();
}

/**
 * The edge's disk spool: an append-only file of batches that could not be published, replayed in
 * order once JetStream answers again, so no click is lost (docs/architecture.md, “Principles”, 1).
 * Records are `[u32 length][u16 subject length][subject][u16 id length][msg id][payload]`. The read
 * offset is kept in a sidecar file so that a restarted edge resumes where the drain stopped; the
 * batches' `Nats-Msg-Id` covers the last few records replayed twice.
 *
 * A spool belongs to one process (its file name carries the pid); a new edge adopts the files of
 * edges that are no longer running, so a crash leaves nothing behind.
 */
import { closeSync, existsSync, fstatSync, ftruncateSync, mkdirSync, openSync, readdirSync, readSync, readFileSync, renameSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/** One spooled batch. */
export interface SpooledBatch {
  subject: string;
  msgId: string;
  payload: Uint8Array;
}

function encode(b: SpooledBatch): Buffer {
  const subject = Buffer.from(b.subject);
  const id = Buffer.from(b.msgId);
  const buf = Buffer.allocUnsafe(4 + 2 + subject.length + 2 + id.length + b.payload.byteLength);
  let o = buf.writeUInt32LE(buf.length - 4, 0);
  o = buf.writeUInt16LE(subject.length, o);
  o += subject.copy(buf, o);
  o = buf.writeUInt16LE(id.length, o);
  o += id.copy(buf, o);
  buf.set(b.payload, o);
  return buf;
}

/** One spool file with its read offset. */
class SpoolFile {
  private readonly fd: number;
  private readOffset: number;
  private writeOffset: number;
  /** Records appended and not yet drained. */
  depth = 0;

  constructor(readonly path: string) {
    this.fd = openSync(path, existsSync(path) ? 'r+' : 'w+');
    this.writeOffset = fstatSync(this.fd).size;
    const off = existsSync(`${path}.offset`) ? Number(readFileSync(`${path}.offset`, 'utf8')) : 0;
    this.readOffset = Number.isFinite(off) && off <= this.writeOffset ? off : 0;
    this.depth = this.countFrom(this.readOffset);
  }

  private countFrom(offset: number): number {
    let n = 0;
    const head = Buffer.allocUnsafe(4);
    while (offset + 4 <= this.writeOffset) {
      readSync(this.fd, head, 0, 4, offset);
      const len = head.readUInt32LE(0);
      if (offset + 4 + len > this.writeOffset) {
        // A torn record from a crash mid-append: drop it, it was never acknowledged to anyone.
        this.writeOffset = offset;
        ftruncateSync(this.fd, offset);
        break;
      }
      offset += 4 + len;
      n++;
    }
    return n;
  }

  append(b: SpooledBatch): void {
    const buf = encode(b);
    writeSync(this.fd, buf, 0, buf.length, this.writeOffset);
    this.writeOffset += buf.length;
    this.depth++;
  }

  /** Up to `n` records from the read offset, and the offset after the last of them. */
  peek(n: number): { batches: SpooledBatch[]; next: number } {
    const batches: SpooledBatch[] = [];
    let offset = this.readOffset;
    while (batches.length < n && offset < this.writeOffset) {
      const r = this.readAt(offset);
      batches.push(r.batch);
      offset = r.next;
    }
    return { batches, next: offset };
  }

  private readAt(offset: number): { batch: SpooledBatch; next: number } {
    const head = Buffer.allocUnsafe(4);
    readSync(this.fd, head, 0, 4, offset);
    const rec = Buffer.allocUnsafe(head.readUInt32LE(0));
    readSync(this.fd, rec, 0, rec.length, offset + 4);
    let o = 0;
    const sl = rec.readUInt16LE(o);
    const subject = rec.toString('utf8', 2, 2 + sl);
    o = 2 + sl;
    const il = rec.readUInt16LE(o);
    const msgId = rec.toString('utf8', o + 2, o + 2 + il);
    const payload = rec.subarray(o + 2 + il);
    return { batch: { subject, msgId, payload }, next: offset + 4 + rec.length };
  }

  advance(next: number, count: number): void {
    this.readOffset = next;
    this.depth -= count;
    if (this.readOffset >= this.writeOffset) {
      ftruncateSync(this.fd, 0);
      this.readOffset = this.writeOffset = 0;
      this.depth = 0;
    }
    // Write-then-rename: a crash mid-write must not leave an empty offset (a full replay).
    writeFileSync(`${this.path}.offset.tmp`, String(this.readOffset));
    renameSync(`${this.path}.offset.tmp`, `${this.path}.offset`);
  }

  get bytes(): number {
    return this.writeOffset - this.readOffset;
  }

  close(removeIfEmpty: boolean): void {
    closeSync(this.fd);
    if (removeIfEmpty && this.depth === 0) {
      unlinkSync(this.path);
      if (existsSync(`${this.path}.offset`)) unlinkSync(`${this.path}.offset`);
    }
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's spool plus any adopted from dead edges; drained oldest file first. */
export class Spool {
  private readonly own: SpoolFile;
  private readonly adopted: SpoolFile[] = [];

  constructor(dir: string, instance: string) {
    mkdirSync(dir, { recursive: true });
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.spool')).sort()) {
      const pid = Number(f.split('-')[0]);
      if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) {
        const file = new SpoolFile(join(dir, f));
        if (file.depth > 0) this.adopted.push(file);
        else file.close(true);
      }
    }
    this.own = new SpoolFile(join(dir, `${process.pid}-${instance}.spool`));
  }

  /** Batches waiting. */
  get depth(): number {
    return this.own.depth + this.adopted.reduce((n, f) => n + f.depth, 0);
  }

  /** Bytes waiting. */
  get bytes(): number {
    return this.own.bytes + this.adopted.reduce((n, f) => n + f.bytes, 0);
  }

  /** Append a batch (synchronous: once this returns the batch survives a process crash). */
  append(b: SpooledBatch): void {
    this.own.append(b);
  }

  /**
   * Up to `n` of the oldest waiting batches (all from one file), and a function that removes them
   * once they are all published; undefined when the spool is empty.
   */
  oldest(n: number): { batches: SpooledBatch[]; done(): void } | undefined {
    while (this.adopted.length > 0) {
      const f = this.adopted[0] as SpoolFile;
      const p = f.peek(n);
      if (p.batches.length > 0) return { batches: p.batches, done: () => f.advance(p.next, p.batches.length) };
      f.close(true);
      this.adopted.shift();
    }
    const p = this.own.peek(n);
    return p.batches.length > 0 ? { batches: p.batches, done: () => this.own.advance(p.next, p.batches.length) } : undefined;
  }

  /** Close the files; an empty spool leaves no file behind. */
  close(): void {
    for (const f of this.adopted) f.close(true);
    this.own.close(true);
  }
}

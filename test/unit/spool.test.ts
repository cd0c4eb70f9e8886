import { appendFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool, type SpooledBatch } from '../../node/spool.ts';

const batch = (i: number): SpooledBatch => ({ subject: `ns.ev.${i % 4}`, msgId: `e.${i}`, payload: Buffer.from(`payload-${i}`) });
const ids = (bs: SpooledBatch[] | undefined) => bs?.map((b) => b.msgId);

describe('disk spool', () => {
  it('replays in order, in windows, and leaves no file once drained', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const s = new Spool(dir, 'a');
    for (let i = 1; i <= 5; i++) s.append(batch(i));
    expect(s.depth).toBe(5);
    const w1 = s.oldest(3);
    expect(ids(w1?.batches)).toEqual(['e.1', 'e.2', 'e.3']);
    expect(Buffer.from(w1?.batches[2]?.payload as Uint8Array).toString()).toBe('payload-3');
    // Not acknowledged yet: the same window again.
    expect(ids(s.oldest(3)?.batches)).toEqual(['e.1', 'e.2', 'e.3']);
    w1?.done();
    s.append(batch(6));
    expect(ids(s.oldest(10)?.batches)).toEqual(['e.4', 'e.5', 'e.6']);
    s.oldest(10)?.done();
    expect(s.depth).toBe(0);
    expect(s.oldest(10)).toBeUndefined();
    s.close();
    expect(readdirSync(dir)).toEqual([]);
  });

  it("adopts a dead edge's spool, drops a torn last record, resumes at the saved offset", () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-'));
    const dead = new Spool(dir, 'dead');
    for (let i = 1; i <= 4; i++) dead.append(batch(i));
    dead.oldest(1)?.done();
    const [file] = readdirSync(dir).filter((f) => f.endsWith('.spool'));
    // Pretend its owner was a process that no longer exists, killed mid-append.
    const orphan = join(dir, `999999999-dead.spool`);
    writeFileSync(orphan, Buffer.alloc(0));
    appendFileSync(orphan, readFileSync(join(dir, file as string)));
    writeFileSync(`${orphan}.offset`, readFileSync(join(dir, `${file}.offset`)));
    appendFileSync(orphan, Buffer.from([200, 0, 0, 0, 1, 2]));
    // The first spool's file carries this (live) process's pid: not adopted. The orphan is.
    const s = new Spool(dir, 'new');
    expect(s.depth).toBe(3);
    expect(ids(s.oldest(10)?.batches)).toEqual(['e.2', 'e.3', 'e.4']);
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { resultsStem, writeResults } from '../../loadtest/lib/results.ts';

describe('result file names', () => {
  const dirs: string[] = [];
  const fresh = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'affstream-results-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const run = { scenario: 'mixed', date: '2026-12-04T19:54:24.631Z' };

  it('names a run by its day and scenario', () => {
    expect(resultsStem(run, 'mixed', fresh())).toBe('2026-12-04-mixed');
  });

  it('gives a second run of the day its own name instead of overwriting the first', () => {
    const dir = fresh();
    const first = writeResults(run, '# first\n', dir);
    const second = writeResults(run, '# second\n', dir);
    expect(path.basename(first.md)).toBe('2026-12-04-mixed.md');
    expect(path.basename(second.md)).toBe('2026-12-04-mixed-2.md');
    // A chart alone (written before the figures) takes the name as well.
    writeFileSync(path.join(dir, '2026-12-04-mixed-3.svg'), '<svg/>');
    expect(resultsStem(run, 'mixed', dir)).toBe('2026-12-04-mixed-4');
  });

  it('does not take a longer name that only starts the same for its own', () => {
    const dir = fresh();
    writeResults({ ...run }, '#\n', dir, '2026-12-04-mixed-r2000');
    expect(resultsStem(run, 'mixed', dir)).toBe('2026-12-04-mixed');
  });
});

/**
 * The CPU windows of the benchmark results (loadtest/lib/results.ts): what the machine used beyond
 * the processes measured, and how much of it the hypervisor gave to other guests (steal).
 */
import { describe, expect, it } from 'vitest';
import { cpuSection, cpuWindow, processCpu } from '../../loadtest/lib/results.ts';

describe('cpuWindow', () => {
  it('reports the rest of the machine and, apart, the steal within it, in cores', () => {
    // 10 s: the worker used 6 CPU-s; the machine 15, of which 4 stolen by the hypervisor.
    const w = cpuWindow('load', 10, [processCpu('worker', 6e6, 10, 1000)], { busyMicros: 15e6, stealMicros: 4e6 });
    expect(w.otherCores).toBeCloseTo(0.9);
    expect(w.stealCores).toBeCloseTo(0.4);
    const table = cpuSection([w], 'per event').join('\n');
    expect(table).toContain('| everything else on the machine | 9.00 | 0.90 | – |');
    expect(table).toContain('| of which stolen by the hypervisor (steal) | 4.00 | 0.40 | – |');
  });

  it('never reports a negative rest (counters read a moment apart)', () => {
    const w = cpuWindow('load', 10, [processCpu('worker', 6e6, 10, 1000)], { busyMicros: 5.9e6, stealMicros: 0 });
    expect(w.otherCores).toBe(0);
    expect(w.stealCores).toBe(0);
  });
});

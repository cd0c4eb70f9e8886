/** What the ingest benchmark's floor says about the target, from given figures (no servers, no timing). */
import { describe, expect, it } from 'vitest';
import { cpuWindow, processCpu } from '../../loadtest/lib/results.ts';
import { floorLimits, INGEST_TARGET, type FloorRun } from '../../loadtest/scenarios/ingest.ts';
import type { StreamIngestOutput } from '../../loadtest/tools/streamIngest.ts';

const client = (accepted: number, durationS: number): StreamIngestOutput => ({
  framesSent: accepted / 1000,
  framesAcked: accepted / 1000,
  framesFullyAccepted: accepted / 1000,
  accepted,
  duplicates: 0,
  rejected: 0,
  rejectedSamples: [],
  errors: {},
  unanswered: 0,
  durationS,
  acceptedPerSec: accepted / durationS,
  ackLatencyMs: { p50: 10, p99: 20, max: 30 },
  cpuMicros: accepted * 0.5,
  frame: { events: 1000, bytes: 150_000, players: 50, byType: {}, depositAmount: '0', betStake: '0', betWin: '0' },
});

/** A run of `accepted` events in 10 s whose server spent `serverMicros` and NATS `natsMicros` per event. */
const run = (target: FloorRun['target'], accepted: number, serverMicros: number, natsMicros = 0.5): FloorRun => {
  const c = client(accepted, 10);
  const processes = [processCpu('bare server', serverMicros * accepted, 10, accepted), processCpu('nats', natsMicros * accepted, 10, accepted), processCpu('stream client', c.cpuMicros, 10, accepted)];
  return { target, client: c, cpu: cpuWindow(`${target} server`, 10, processes, { busyMicros: 0, stealMicros: 0 }) };
};

describe('floorLimits', () => {
  it('says nothing without a bare run that acknowledged events', () => {
    expect(floorLimits([], undefined, undefined, 2)).toEqual([]);
    expect(floorLimits([run('bare', 0, 1)], undefined, undefined, 2)).toEqual([]);
  });

  it('above the target: the CPU an event may cost at the target, less what the floor spends', () => {
    const lines = floorLimits([run('bare', 7_500_000, 1)], undefined, undefined, 2);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('750,000 events/s');
    // 1 (server) + 0.5 (NATS) + 0.5 (client) of the 2 cores × 1e6 / 300,000 = 6.67 µs.
    expect(lines[1]).toContain('reaches the target');
    expect(lines[1]).toContain('6.67 CPU-µs');
    expect(lines[1]).toContain('leaves 4.67');
  });

  it('below the target: no edge can reach it on this machine', () => {
    const lines = floorLimits([run('bare', 2_000_000, 8)], undefined, undefined, 2);
    expect(INGEST_TARGET).toBeGreaterThan(200_000);
    expect(lines[1]).toContain('stays below the target');
    expect(lines[1]).toContain('no edge can reach the target');
  });

  it("compares the edge with the floor, and the decoder's share", () => {
    const edge = client(500_000, 10);
    const edgeLoad = cpuWindow('load', 10, [processCpu('edge', 16 * 500_000, 10, 500_000)], { busyMicros: 0, stealMicros: 0 });
    const lines = floorLimits([run('bare', 7_500_000, 1), run('bare + decode', 2_000_000, 3.5)], edge, edgeLoad, 2);
    expect(lines[0]).toContain('the edge 50,000, 6.7% of it');
    expect(lines[0]).toContain('the edge spent 16.00 in itself, 15.00 more than the bare server');
    expect(lines[2]).toContain('3.50 CPU-µs per event in the bare server with it, 2.50 more than without');
    // 1e6 / 3.5 µs = ~285,714 events/s on one thread: short of the target.
    expect(lines[2]).toContain('below the target');
    expect(floorLimits([run('bare', 7_500_000, 1), run('bare + decode', 2_000_000, 3)], edge, edgeLoad, 2)[2]).not.toContain('below the target');
  });
});

/**
 * The worker supervisor (workers/supervisor.ts): a dead partition loop's instance is abandoned,
 * never stopped (stopping flushes), and replaced; the health answers say so meanwhile; a message
 * that keeps killing the loop is quarantined for the next instance; a stop flushes the running one.
 */
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { WorkerSupervisor, type LoopFailure, type PartitionStatus, type SupervisedWorker } from '../../workers/supervisor.ts';

/** A controllable instance. */
class FakeInstance implements SupervisedWorker {
  readonly calls: string[] = [];
  fail!: (f: LoopFailure) => void;
  readonly failed = new Promise<LoopFailure>((resolve) => (this.fail = resolve));
  constructor(readonly quarantine: ReadonlySet<number>, private readonly live = true) {}
  partitions(): PartitionStatus[] {
    return [0, 1].map((p) => ({ partition: p, owned: true, live: this.live, position: 10, consumer: 'all', consumerLag: 0, replaying: false }));
  }
  async stop(): Promise<void> {
    this.calls.push('stop');
  }
  async abandon(): Promise<void> {
    this.calls.push('abandon');
  }
}

function harness() {
  const instances: FakeInstance[] = [];
  let started: (() => void) | undefined;
  const counted = { restarts: 0, quarantined: 0 };
  const supervisor = new WorkerSupervisor({
    start: async (quarantine) => {
      const w = new FakeInstance(new Set(quarantine));
      instances.push(w);
      started?.();
      return w;
    },
    log: pino({ level: 'silent' }),
    counters: { restarts: () => counted.restarts++, quarantined: () => counted.quarantined++ },
    pacing: { baseMs: 1, maxMs: 4, stableMs: 60_000 },
  });
  /** Resolves once the `n`th instance (1-based) has been started and taken into use. */
  const nth = async (n: number) => {
    while (instances.length < n) await new Promise<void>((r) => (started = r));
    await new Promise((r) => setImmediate(r));
    return instances[n - 1] as FakeInstance;
  };
  return { supervisor, instances, nth, counted };
}

const failure = (seq: number): LoopFailure => ({ consumer: 'all', seq, subject: 'ns.p.3', error: 'TypeError: boom' });

describe('WorkerSupervisor', () => {
  it('is healthy and ready while an instance consumes with every partition live', async () => {
    const { supervisor, nth } = harness();
    expect(supervisor.readiness().status).toBe(503);
    const run = supervisor.run();
    await nth(1);
    expect(supervisor.health()).toEqual({ status: 200, body: { ok: true, state: 'consuming', restarts: 0, quarantined: [] } });
    const ready = supervisor.readiness();
    expect(ready.status).toBe(200);
    expect(ready.body.partitions).toHaveLength(2);
    expect(supervisor.stop()).toBe(true);
    await run;
    expect(supervisor.health().body.state).toBe('stopped');
  });

  it('abandons the instance whose loop died, says so, and runs a new one', async () => {
    const { supervisor, nth, counted } = harness();
    const run = supervisor.run();
    const first = await nth(1);
    first.fail(failure(42));
    // Right after the failure, before the replacement runs.
    await new Promise((r) => setImmediate(r));
    expect(supervisor.health().status).toBe(503);
    expect(supervisor.health().body).toMatchObject({ ok: false, state: 'restarting', restarts: 1, lastFailure: { seq: 42, error: 'TypeError: boom' } });
    expect(supervisor.readiness().status).toBe(503);
    const second = await nth(2);
    expect(first.calls).toEqual(['abandon']);
    expect(supervisor.health()).toMatchObject({ status: 200, body: { ok: true, state: 'consuming', restarts: 1 } });
    expect(supervisor.readiness().status).toBe(200);
    expect(counted.restarts).toBe(1);
    supervisor.stop();
    await run;
    expect(second.calls).toEqual(['stop']);
  });

  it('quarantines a message that killed the loop three times in a row, and only that one', async () => {
    const { supervisor, nth, counted } = harness();
    const run = supervisor.run();
    (await nth(1)).fail(failure(7));
    (await nth(2)).fail(failure(9));
    (await nth(3)).fail(failure(9));
    const fourth = await nth(4);
    expect(fourth.quarantine.size).toBe(0);
    fourth.fail(failure(9));
    const fifth = await nth(5);
    expect([...fifth.quarantine]).toEqual([9]);
    expect(counted.quarantined).toBe(1);
    expect(supervisor.readiness().body.quarantined).toEqual([expect.objectContaining({ seq: 9, subject: 'ns.p.3' })]);
    supervisor.stop();
    await run;
  });

  it('is not ready while a partition of the running instance is not live', async () => {
    const supervisor = new WorkerSupervisor({ start: async (q) => new FakeInstance(q, false), log: pino({ level: 'silent' }) });
    const run = supervisor.run();
    await new Promise((r) => setImmediate(r));
    expect(supervisor.health().status).toBe(200);
    expect(supervisor.readiness().status).toBe(503);
    supervisor.stop();
    await run;
  });

  it('a stop requested while an instance starts says there is nothing to flush, and stops that instance once it is up', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const w = new FakeInstance(new Set());
    const supervisor = new WorkerSupervisor({ start: async () => (await gate, w), log: pino({ level: 'silent' }) });
    const run = supervisor.run();
    expect(supervisor.stop()).toBe(false);
    release();
    await run;
    expect(w.calls).toEqual(['stop']);
  });
});

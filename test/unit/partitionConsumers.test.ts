/**
 * The pure parts of how a worker consumes: reading a JetStream reply subject
 * (workers/runtime/batchPuller.ts) and which consumers a worker's partitions get
 * (workers/runtime/partitionConsumers.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseAckSubject } from '../../workers/runtime/batchPuller.ts';
import { consumerPlans } from '../../workers/runtime/partitionConsumers.ts';
import { natsNames } from '../../schema/subjects.ts';

const names = natsNames({ namespace: 'ns' });

describe('JetStream reply subjects', () => {
  it('give the stream sequence and the pending count, in the old and the new (domain, account hash) forms', () => {
    expect(parseAckSubject('$JS.ACK.NS_EVENTS.partitions.1.1042.17.1796318982683903856.9')).toEqual({ seq: 1042, pending: 9 });
    expect(parseAckSubject('$JS.ACK._.ACCHASH.NS_EVENTS.partitions.2.77.3.1796318982683903856.0.xyz')).toEqual({ seq: 77, pending: 0 });
  });

  it('are refused when they are not JetStream acknowledgements', () => {
    expect(parseAckSubject('_INBOX.abc.1')).toBeUndefined();
    expect(parseAckSubject('$JS.ACK.S.c.1.x.1.1.0')).toBeUndefined();
    expect(parseAckSubject('$JS.ACK.S.c.1.2.3')).toBeUndefined();
  });
});

describe('consumer layout', () => {
  it('is one consumer on the whole stream for a worker that owns every partition', () => {
    expect(consumerPlans(names, [3, 1, 0, 2], 4, '2.9.10')).toEqual([{ name: 'partitions', partitions: [0, 1, 2, 3], filter: { filter_subject: 'ns.ev.>' } }]);
  });

  it('is one consumer with a filter per partition for some partitions on NATS 2.10 and later', () => {
    const [plan, ...rest] = consumerPlans(names, [5, 2], 8, '2.10.3');
    expect(rest).toEqual([]);
    expect(plan?.partitions).toEqual([2, 5]);
    expect(plan?.filter).toEqual({ filter_subjects: ['ns.ev.2', 'ns.ev.5'] });
    // The same set, the same name (a restart finds and replaces it); another set, another name.
    expect(consumerPlans(names, [2, 5], 8, '2.11.0')[0]?.name).toBe(plan?.name);
    expect(consumerPlans(names, [2, 6], 8, '2.11.0')[0]?.name).not.toBe(plan?.name);
  });

  it('is a consumer per partition for some partitions on NATS 2.9, which has one filter per consumer', () => {
    expect(consumerPlans(names, [5, 2], 8, '2.9.10').map((p) => [p.name, p.partitions, p.filter])).toEqual([
      ['part-2', [2], { filter_subject: 'ns.ev.2' }],
      ['part-5', [5], { filter_subject: 'ns.ev.5' }],
    ]);
  });

  it('maps subjects back to partitions', () => {
    expect(names.partitionOf('ns.ev.17')).toBe(17);
    expect(names.partitionOf('ns.ev.x')).toBeUndefined();
    expect(names.partitionOf('other.ev.1')).toBeUndefined();
  });
});

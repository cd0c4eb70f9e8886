/**
 * Applying one stream message with everything it sends to actors of partitions read through the
 * same consumer (docs/architecture.md, “How a worker consumes”): those are delivered at once, as
 * part of the message, instead of as `forwarded` messages through JetStream. The consumer delivers
 * all of its partitions' messages in one global order and they resume together from one position
 * after a restart, so a replay meets each delivery at the same place: the message's own sequence.
 * What goes to partitions of other consumers (other workers) still goes through the stream.
 */
import type { ForwardedItem } from '../../schema/eventWire.ts';
import { emptyOutput, type LoopOutput, type PartitionInput, type PartitionLoop } from './partition.ts';

/**
 * Apply the message at `seq` of partition `p` and deliver what its actors send to partitions in
 * `local` (theirs, in the order sent, breadth first), and on. Returns every partition's output of
 * the message (`p`'s first), each with only the forwards for partitions outside `local`; null
 * when `p` had applied the message already.
 */
export function applyWithLocalDeliveries(
  local: ReadonlyMap<number, PartitionLoop>,
  p: number,
  seq: number,
  input: PartitionInput,
): Map<number, LoopOutput> | null {
  const source = local.get(p);
  if (!source) throw new Error(`partition ${p} is not local`);
  const first = source.apply(seq, input);
  if (!first) return null;
  const outputs = new Map<number, LoopOutput>([[p, first]]);
  const queue: Array<{ from: number; to: number; items: ForwardedItem[] }> = [];
  const route = (from: number, sent: Map<number, ForwardedItem[]>, out: LoopOutput): void => {
    for (const [to, items] of sent) {
      if (local.has(to)) {
        queue.push({ from, to, items });
      } else {
        const list = out.forwards.get(to);
        if (list) list.push(...items);
        else out.forwards.set(to, items);
      }
    }
  };
  const sentByFirst = first.forwards;
  first.forwards = new Map();
  route(p, sentByFirst, first);
  for (let next = queue.shift(); next; next = queue.shift()) {
    let out = outputs.get(next.to);
    if (!out) outputs.set(next.to, (out = emptyOutput()));
    route(next.to, (local.get(next.to) as PartitionLoop).deliverLocal(seq, next.from, next.items, out, next.to === p), out);
  }
  return outputs;
}

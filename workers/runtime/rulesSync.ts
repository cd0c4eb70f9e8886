/**
 * Puts the rules file's attribution rules into every partition's ordered input
 * (docs/architecture.md, “Principles”, 3, and “Attribution”: which rules apply is decided by stream
 * position). A partition's rules change only when its loop applies a `rules` message, so the
 * rule a registration gets depends on its place in the stream alone, and a replay gives it the same
 * one; the rules in force are stored with the partition's flushes (`partition_rules`).
 *
 * For each owned partition whose rules in force differ from the file's, a `rules` message is
 * published — at boot, on every change of the file, and on a timer until the partition has applied
 * it (a publish can fail). Its id names the transition (partition, sequence of the rules it
 * replaces, new rules), so publishing it again is stored once by JetStream's duplicate window,
 * while going back to earlier rules later is a new transition that goes through.
 */
import { createHash } from 'node:crypto';
import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import { canonicalRules, type AttributionRules } from '../../schema/attributionRules.ts';
import { encodeRules, KIND_HEADER } from '../../schema/eventWire.ts';
import type { NatsNames } from '../../schema/subjects.ts';
import type { PartitionLoop } from './partition.ts';

/** Publishes the wanted rules to the partitions that lack them. */
export class RulesSync {
  /** Per partition, the id of the message published and not yet applied. */
  private readonly sent = new Map<number, string>();
  private canonical: string;
  private hash: string;

  constructor(
    private readonly loops: ReadonlyMap<number, PartitionLoop>,
    private readonly js: JetStreamClient,
    private readonly names: NatsNames,
    private readonly log: Logger,
    wanted: AttributionRules,
  ) {
    this.canonical = canonicalRules(wanted);
    this.hash = createHash('sha256').update(this.canonical).digest('hex').slice(0, 32);
  }

  /** New rules are wanted: publish them to every partition that lacks them. */
  want(rules: AttributionRules): void {
    this.canonical = canonicalRules(rules);
    this.hash = createHash('sha256').update(this.canonical).digest('hex').slice(0, 32);
    this.sync();
  }

  /** Publish the wanted rules to each partition that has other rules and no such message on its way. */
  sync(): void {
    for (const [p, loop] of this.loops) {
      if (canonicalRules(loop.rules) === this.canonical) {
        this.sent.delete(p);
        continue;
      }
      const id = `rules.${p}.${loop.rulesSeq}.${this.hash}`;
      if (this.sent.get(p) === id) continue;
      this.sent.set(p, id);
      const h = natsHeaders();
      h.set(KIND_HEADER, 'rules');
      this.js.publish(this.names.partitionSubject(p), encodeRules(id, this.canonical), { msgID: id, headers: h }).catch((err) => {
        // Forgotten, so the next sync publishes it again.
        if (this.sent.get(p) === id) this.sent.delete(p);
        this.log.warn({ err: String(err), partition: p }, 'attribution rules not published; retrying');
      });
    }
  }
}

/**
 * What a message sends out of the cluster once its rows are committed (docs/commissions.md,
 * “Outbound postbacks”): a commission's status change is told to the affiliate only after its
 * ledger row is in ClickHouse, and an operator's command is answered only then. The sink hands
 * these to its host after the counted tables of a flush landed and before its checkpoint, so a
 * crash in between replays the message and sends them again (with the same ids, deduplicated).
 */
import type { PostbackJob } from '../../schema/commissions.ts';

/** One thing to send after commit. */
export type OutboxItem =
  | { kind: 'postback'; job: PostbackJob }
  /** The answer to a command, for the API call waiting on `replyTo` (a NATS inbox). */
  | { kind: 'answer'; replyTo: string; body: unknown };

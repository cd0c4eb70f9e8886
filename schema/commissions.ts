/**
 * The commission ledger's shapes (docs/commissions.md), shared by the workers that make commission
 * lines, the edge that lists and transitions them, and the dispatcher of outbound postbacks.
 *
 * A commission line is made once (a qualified FTD's CPA, a closed period's RevShare, a parent's
 * share of a child's line) and then only changes status. Each change is one appended row of the
 * ledger (`commission_ledger`, version 1, 2, …); the line as it stands is its latest version. A
 * chargeback never edits a line: it appends a new line of the opposite amount, status `reversed`.
 */
import { AffstreamError } from './errors.ts';

/** What a line pays for. */
export type CommissionKind = 'cpa' | 'revshare' | 'subaffiliate';

/** A line's place in its lifecycle. */
export type CommissionStatus = 'pending' | 'approved' | 'held' | 'rejected' | 'paid' | 'reversed';

/** Every status, in lifecycle order. */
export const COMMISSION_STATUSES: readonly CommissionStatus[] = ['pending', 'approved', 'held', 'rejected', 'paid', 'reversed'];

/** What an operator (or the system, for fraud holds and due approvals) asks of a line. */
export type CommissionAction = 'approve' | 'hold' | 'reject' | 'pay';

/**
 * The lifecycle: the status each action leads to, from the statuses it is allowed in. Anything
 * else is a `409 invalid_transition`. `rejected`, `paid` and `reversed` are final.
 */
export const TRANSITIONS: Readonly<Record<CommissionAction, { to: CommissionStatus; from: readonly CommissionStatus[] }>> = {
  approve: { to: 'approved', from: ['pending', 'held'] },
  hold: { to: 'held', from: ['pending', 'approved'] },
  reject: { to: 'rejected', from: ['pending', 'held', 'approved'] },
  pay: { to: 'paid', from: ['approved'] },
};

/** Every command an operator can send, approve-due included. */
export const COMMISSION_ACTIONS: ReadonlyArray<CommissionAction | 'approve-due'> = ['approve', 'hold', 'reject', 'pay', 'approve-due'];

/** The status `action` leads to from `status`; throws `invalid_transition` when the lifecycle forbids it. */
export function transition(status: CommissionStatus, action: CommissionAction): CommissionStatus {
  const t = TRANSITIONS[action];
  if (!t.from.includes(status)) {
    throw new AffstreamError('invalid_transition', `cannot ${action} a commission that is ${status} (allowed from ${t.from.join(', ')})`);
  }
  return t.to;
}

/** A commission line as the API shows it (the field names are the contract). */
export interface Commission {
  id: string;
  brandId: string;
  affiliateId: string;
  /** The player it was earned on ('' for RevShare, which is per affiliate and period). */
  playerId: string;
  kind: CommissionKind;
  /** YYYY-MM in the brand's timezone for RevShare (and the period a CPA or sub-affiliate line falls in). */
  period: string;
  /** Decimal text, 4 places; negative for a reversal. */
  amount: string;
  currency: string;
  status: CommissionStatus;
  reason: string;
  /** `planId@version` of the plan version used. */
  planVersion: string;
  /** The event that made the line (an FTD, the event that completed a CPA's qualification, a chargeback…; '' for RevShare, the import's id for a RevShare adjustment). */
  sourceEventId: string;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

/**
 * An outbound postback to send (docs/commissions.md): one per status change of a line, published
 * once the change is in ClickHouse. `id` (`<commission id>.<version>`) is its `Nats-Msg-Id` and
 * the idempotency key of its attempts.
 */
export interface PostbackJob {
  id: string;
  commissionId: string;
  version: number;
  brandId: string;
  affiliateId: string;
  playerId: string;
  kind: CommissionKind;
  status: CommissionStatus;
  /** Macro `{event}`: what happened (`cpa`, `revshare`, `subaffiliate`, `reversal`). */
  event: string;
  /** Macro `{payout}`: decimal text, 4 places. */
  payout: string;
  currency: string;
  /** Macro `{txid}`: the source event id, else the commission id. */
  txid: string;
  /** Macro `{click_id}` ('' when the line has no click, e.g. RevShare); `{sub1}`…`{sub10}` are looked up from it. */
  clickId: string;
  sub1: string;
  /** When the status changed (ms). */
  at: number;
}

/** Macros a `postbackUrl` template may hold. */
export const POSTBACK_MACROS = [
  'click_id', ...Array.from({ length: 10 }, (_, i) => `sub${i + 1}`), 'event', 'status', 'payout', 'currency', 'txid',
  // Beyond the usual set: the line and its change, so a tracker can order changes that arrive out of order.
  'commission_id', 'version',
] as const;

/** An operator's command, as the edge puts it into the partition of the affiliate's commission actor. */
export interface CommissionCommand {
  /** The command id: one answer per command, and a command seen again changes nothing. */
  id: string;
  action: CommissionAction | 'approve-due';
  /** Lines of the one affiliate the command is for (approve-due: every candidate the edge found). */
  commissionIds: string[];
  /** Why (hold, reject). */
  reason: string;
  /** The payment's reference (pay). */
  reference: string;
  /** Who asked: `admin`, or the operator's name. */
  by: string;
  /** When the operator asked (ms): the time of the change. */
  at: number;
}

/** The commands of one partition message, with the NATS inbox the asking edge waits on. */
export interface CommandBatch {
  id: string;
  replyTo: string;
  items: Array<{ affiliateId: string; command: CommissionCommand }>;
}

/** One line's outcome of a command. */
export interface CommandResult {
  commissionId: string;
  ok: boolean;
  status?: CommissionStatus;
  error?: { code: 'invalid_transition' | 'not_found'; message: string };
}

/** What a worker answers on a batch's `replyTo`, per affiliate command. */
export interface CommandAnswer {
  commandId: string;
  results: CommandResult[];
}

/**
 * One calendar day (the brand's time zone) of a revenue import, for one affiliate
 * (docs/commissions.md, “Revenue imports”): the NGR of its commissionable players as the platform's
 * books give it, and the NGR the live layer counted for that day. Absolute figures, decimal text with
 * 4 places: a day sent again overwrites what an earlier import said of it.
 */
export interface RevenueDay {
  /** `YYYY-MM-DD` in the brand's time zone; its period is `day.slice(0, 7)`. */
  day: string;
  imported: string;
  live: string;
}

/** What one import tells one affiliate's commission actor about one brand. */
export interface ImportedRevenue {
  /** Answered under this id (the `commandId` of its {@link CommandAnswer}). */
  id: string;
  importId: string;
  brandId: string;
  /** When the import was merged (ms): the time of the adjustment lines it makes. */
  at: number;
  /** Ascending, each day once. */
  days: RevenueDay[];
}

/** The imported revenue of one partition message, with the NATS inbox the publisher waits on. */
export interface RevenueBatch {
  id: string;
  replyTo: string;
  items: Array<{ affiliateId: string; revenue: ImportedRevenue }>;
}

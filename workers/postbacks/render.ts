/**
 * An outbound postback's URL (docs/commissions.md, “Outbound postbacks”): the affiliate's
 * `postbackUrl` template with the macros of {@link POSTBACK_MACROS} replaced by their values,
 * URL-encoded (`encodeURIComponent`). Anything else between braces is left as it is.
 */
import { POSTBACK_MACROS, type PostbackJob } from '../../schema/commissions.ts';

/** A macro name. */
export type PostbackMacro = (typeof POSTBACK_MACROS)[number];

/** The sub-IDs of a job's click, sub1…sub10 (from ClickHouse `clicks`). */
export type ClickSubs = readonly string[];

const MACRO = /\{([a-z0-9_]+)\}/g;
const KNOWN = new Set<string>(POSTBACK_MACROS);
/** Macros whose values only the click row holds. */
const CLICK_ONLY = /\{sub(?:10|[2-9])\}/;

/** True when `template` needs the click's stored sub-IDs (sub2…sub10; sub1 travels with the job). */
export function needsClickSubs(template: string): boolean {
  return CLICK_ONLY.test(template);
}

/**
 * The macros' values for `job`. sub1 is the job's own (the click's when the job has none);
 * sub2…sub10 come from the click, '' when it was not found or the line has no click.
 */
export function macroValues(job: PostbackJob, subs: ClickSubs | undefined): Record<PostbackMacro, string> {
  const sub = (i: number) => subs?.[i - 1] ?? '';
  const values = {
    click_id: job.clickId, event: job.event, status: job.status, payout: job.payout, currency: job.currency, txid: job.txid,
    commission_id: job.commissionId, version: String(job.version),
  } as Record<PostbackMacro, string>;
  for (let i = 1; i <= 10; i++) values[`sub${i}` as PostbackMacro] = sub(i);
  values.sub1 = job.sub1 || sub(1);
  return values;
}

/** `template` with every known macro replaced by its URL-encoded value. */
export function renderPostbackUrl(template: string, values: Record<PostbackMacro, string>): string {
  return template.replace(MACRO, (m, name: string) => (KNOWN.has(name) ? encodeURIComponent(values[name as PostbackMacro] ?? '') : m));
}

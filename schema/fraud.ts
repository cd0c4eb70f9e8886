/**
 * The fraud contract (docs/fraud.md) shared by edges and workers: rule ids, per-brand rule settings
 * with their defaults and validation, actions, alerts and pauses, and where they live on NATS.
 *
 * The sub-ID of a click or player is its `sub1` (the one the reports group by).
 */
import { v5 as uuidv5 } from 'uuid';
import { AffstreamError } from './errors.ts';

/** The seven rules (docs/fraud.md, “Where each rule runs”), as they appear in alerts. */
export type RuleId = 'ip_registrations' | 'conversion_rate' | 'bonus_abuse' | 'chargeback_rate' | 'click_flood' | 'multi_account' | 'ftd_amount_cluster';

/** What a rule does when it fires. */
export type FraudAction = 'flag' | 'hold_commission' | 'pause_sub' | 'block_sub' | 'pause_affiliate';

/** Actions that stop a sub-ID's (or affiliate's) traffic from being commissionable; listed as pauses. */
export const PAUSE_ACTIONS: ReadonlySet<FraudAction> = new Set(['pause_sub', 'block_sub', 'pause_affiliate']);

/** How strong an action is: a stronger one replaces a weaker one on the same sub-ID. */
export const ACTION_RANK: Record<FraudAction, number> = { flag: 0, hold_commission: 1, pause_sub: 2, block_sub: 3, pause_affiliate: 4 };

/** Settings of one brand's rules (docs/fraud.md, “Rule settings per brand”; defaults in {@link DEFAULT_FRAUD_RULES}). */
export interface FraudRules {
  ipRegistrations: { enabled: boolean; max: number; windowMinutes: number; action: FraudAction };
  conversionRate: { enabled: boolean; minRegistrations: number; maxRatePct: number; networkRatio: number; windowHours: number; action: FraudAction };
  bonusAbuse: { enabled: boolean; noBetHours: number; action: FraudAction };
  chargebackRate: { enabled: boolean; maxPct: number; minChargebacks: number; windowDays: number; action: FraudAction };
  clickFlood: { enabled: boolean; maxPerMinute: number; action: FraudAction };
  multiAccount: { enabled: boolean; windowHours: number; action: FraudAction };
  ftdAmountCluster: { enabled: boolean; minFtds: number; sharePct: number; windowHours: number; action: FraudAction };
}

/** The defaults, under which a brand's `fraud` settings are merged (docs/fraud.md, “Rule settings per brand”). */
export const DEFAULT_FRAUD_RULES: FraudRules = {
  ipRegistrations: { enabled: true, max: 5, windowMinutes: 10, action: 'pause_sub' },
  conversionRate: { enabled: true, minRegistrations: 40, maxRatePct: 15, networkRatio: 3, windowHours: 24, action: 'flag' },
  bonusAbuse: { enabled: true, noBetHours: 24, action: 'hold_commission' },
  chargebackRate: { enabled: true, maxPct: 8, minChargebacks: 3, windowDays: 30, action: 'block_sub' },
  clickFlood: { enabled: true, maxPerMinute: 30, action: 'flag' },
  multiAccount: { enabled: true, windowHours: 24, action: 'flag' },
  ftdAmountCluster: { enabled: true, minFtds: 10, sharePct: 50, windowHours: 24, action: 'flag' },
};

/** The rule id each settings key configures. */
export const RULE_OF: Record<keyof FraudRules, RuleId> = {
  ipRegistrations: 'ip_registrations',
  conversionRate: 'conversion_rate',
  bonusAbuse: 'bonus_abuse',
  chargebackRate: 'chargeback_rate',
  clickFlood: 'click_flood',
  multiAccount: 'multi_account',
  ftdAmountCluster: 'ftd_amount_cluster',
};

const SUB_ACTIONS: FraudAction[] = ['flag', 'pause_sub', 'block_sub', 'pause_affiliate'];
const PLAYER_ACTIONS: FraudAction[] = ['flag', 'hold_commission'];

/** Numeric settings: [min, max, integer]. */
const LIMITS: Record<string, [number, number, boolean]> = {
  max: [1, 1_000_000, true],
  windowMinutes: [1, 1440, true],
  minRegistrations: [1, 1_000_000, true],
  maxRatePct: [0.01, 100, false],
  networkRatio: [1, 1000, false],
  windowHours: [1, 720, true],
  noBetHours: [1, 720, true],
  maxPct: [0.01, 100, false],
  minChargebacks: [1, 1_000_000, true],
  windowDays: [1, 365, true],
  maxPerMinute: [1, 1_000_000, true],
  minFtds: [2, 1_000_000, true],
  sharePct: [1, 100, false],
};

const ALLOWED_ACTIONS: Record<keyof FraudRules, FraudAction[]> = {
  ipRegistrations: SUB_ACTIONS,
  conversionRate: SUB_ACTIONS,
  bonusAbuse: PLAYER_ACTIONS,
  chargebackRate: SUB_ACTIONS,
  clickFlood: SUB_ACTIONS,
  multiAccount: PLAYER_ACTIONS,
  ftdAmountCluster: SUB_ACTIONS,
};

const invalid = (name: string, message: string) => new AffstreamError('invalid_field', `fraud.${name}: ${message}`);

/**
 * A brand's `fraud` body merged over the defaults: only the settings given change. Unknown rules
 * or settings, values out of range and actions a rule cannot take are rejected with their name.
 */
export function parseFraudRules(body: unknown): FraudRules {
  if (body === undefined || body === null) return structuredClone(DEFAULT_FRAUD_RULES);
  if (typeof body !== 'object' || Array.isArray(body)) throw new AffstreamError('invalid_field', 'fraud: must be an object');
  const out = structuredClone(DEFAULT_FRAUD_RULES);
  for (const [rule, given] of Object.entries(body)) {
    if (!(rule in out)) throw invalid(rule, `is not a rule; allowed: ${Object.keys(out).join(', ')}`);
    const key = rule as keyof FraudRules;
    if (typeof given !== 'object' || given === null || Array.isArray(given)) throw invalid(rule, 'must be an object');
    const target = out[key] as unknown as Record<string, unknown>;
    for (const [name, v] of Object.entries(given as Record<string, unknown>)) {
      if (!(name in target)) throw invalid(`${rule}.${name}`, `is not a setting; allowed: ${Object.keys(target).join(', ')}`);
      if (name === 'enabled') {
        if (typeof v !== 'boolean') throw invalid(`${rule}.enabled`, 'must be true or false');
      } else if (name === 'action') {
        if (!ALLOWED_ACTIONS[key].includes(v as FraudAction)) throw invalid(`${rule}.action`, `must be one of ${ALLOWED_ACTIONS[key].join(', ')}`);
      } else {
        const [min, max, integer] = LIMITS[name] as [number, number, boolean];
        if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (integer && !Number.isInteger(v))) {
          throw invalid(`${rule}.${name}`, `must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`);
        }
      }
      target[name] = v;
    }
  }
  return out;
}

/** An alert: one rule firing once, with what it saw. */
export interface FraudAlert {
  /** Deterministic (UUIDv5 of rule, subject and triggering event): a replay raises the same id. */
  id: string;
  /** Event time of the trigger, ms. */
  ts: number;
  brand_id: string;
  affiliate_id: string;
  sub_id: string;
  /** Set for player rules (bonus abuse, multi-accounting). */
  player_id: string;
  rule: RuleId;
  action: FraudAction;
  /** 0–100. */
  score: number;
  evidence: Record<string, unknown>;
}

/** An active pause or block of a sub-ID, or of a whole affiliate (action `pause_affiliate`, `sub_id` ''), as listed by the API. */
export interface FraudPause {
  id: string;
  brand_id: string;
  affiliate_id: string;
  sub_id: string;
  rule: RuleId;
  action: FraudAction;
  /** ISO time of the trigger. */
  since: string;
  evidence: Record<string, unknown>;
}

/** Namespace of alert ids. */
const ALERT_NAMESPACE = '0b4c6f38-7a2e-4f0e-9d55-3c8b1f6a2d90';

/** The id of the alert `rule` raises about `subject` on the event `trigger`. */
export function alertId(rule: RuleId, subject: string, trigger: string): string {
  return uuidv5(`${rule}\u0000${subject}\u0000${trigger}`, ALERT_NAMESPACE);
}

/** Whether a pause stops the whole affiliate rather than one sub-ID (which may be '' too). */
export const isAffiliateWide = (p: Pick<FraudPause, 'action'>) => p.action === 'pause_affiliate';

/** KV key of a pause: `pause.<affiliate>.a` (the whole affiliate) or `pause.<affiliate>.s<hex sub-ID>` (KV keys allow only a small alphabet). */
export function pauseKey(p: Pick<FraudPause, 'affiliate_id' | 'sub_id' | 'action'>): string {
  return `pause.${p.affiliate_id}.${isAffiliateWide(p) ? 'a' : `s${Buffer.from(p.sub_id).toString('hex')}`}`;
}

/** The pause an alert with a pausing action sets. */
export function pauseOf(a: FraudAlert): FraudPause {
  return {
    id: a.id, brand_id: a.brand_id, affiliate_id: a.affiliate_id, sub_id: a.action === 'pause_affiliate' ? '' : a.sub_id,
    rule: a.rule, action: a.action, since: new Date(a.ts).toISOString(), evidence: a.evidence,
  };
}

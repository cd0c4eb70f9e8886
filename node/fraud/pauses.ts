/**
 * The fraud pauses and blocks in force (docs/fraud.md, “Actions”), mirrored from the fraud KV
 * bucket the workers write: the redirect asks it about every click (one map lookup), and the API
 * lists and lifts them.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { ClusterConfig } from '../../schema/config.ts';
import { openFraudBucket } from '../../schema/natsSetup.ts';
import { mirrorBucket } from '../../schema/kvMirror.ts';
import { isAffiliateWide, pauseKey, type FraudPause } from '../../schema/fraud.ts';

/** The pauses of one affiliate. */
export interface AffiliatePauses {
  /** The affiliate as a whole. */
  wide: FraudPause | undefined;
  /** By sub-ID. */
  subs: Map<string, FraudPause>;
}

/** The pauses in force, by affiliate. */
export class FraudPauses {
  private readonly byAffiliate = new Map<string, AffiliatePauses>();
  private readonly byKey = new Map<string, FraudPause>();
  private stopWatch: () => void = () => {};

  private constructor(private readonly kv: KV) {}

  /** Open the bucket and resolve once the current pauses are loaded. */
  static async open(nc: NatsConnection, cfg: ClusterConfig, onError: (err: unknown) => void): Promise<FraudPauses> {
    const p = new FraudPauses(await openFraudBucket(nc, cfg));
    p.stopWatch = await mirrorBucket(p.kv, (key, value) => p.apply(key, value), onError);
    return p;
  }

  private apply(key: string, value: Uint8Array | null): void {
    const old = this.byKey.get(key);
    if (old) {
      const a = this.byAffiliate.get(old.affiliate_id);
      if (a && isAffiliateWide(old)) a.wide = undefined;
      else a?.subs.delete(old.sub_id);
      if (a && !a.wide && a.subs.size === 0) this.byAffiliate.delete(old.affiliate_id);
      this.byKey.delete(key);
    }
    if (value === null || value.length === 0) return;
    const pause = JSON.parse(Buffer.from(value).toString('utf8')) as FraudPause;
    this.byKey.set(key, pause);
    let a = this.byAffiliate.get(pause.affiliate_id);
    if (!a) this.byAffiliate.set(pause.affiliate_id, (a = { wide: undefined, subs: new Map() }));
    if (isAffiliateWide(pause)) a.wide = pause;
    else a.subs.set(pause.sub_id, pause);
  }

  /** The pauses of an affiliate, if it has any. */
  ofAffiliate(affiliateId: string): AffiliatePauses | undefined {
    return this.byAffiliate.get(affiliateId);
  }

  /** Every pause in force, oldest first. */
  list(): FraudPause[] {
    return [...this.byKey.values()].sort((a, b) => (a.since < b.since ? -1 : a.since > b.since ? 1 : a.id < b.id ? -1 : 1));
  }

  /** The pause with this id. */
  byId(id: string): FraudPause | undefined {
    return [...this.byKey.values()].find((p) => p.id === id);
  }

  /** Remove a pause from the bucket (every edge sees it within milliseconds). */
  async remove(p: FraudPause): Promise<void> {
    const key = pauseKey(p);
    await this.kv.delete(key);
    this.apply(key, null);
  }

  /** Stop watching. */
  close(): void {
    this.stopWatch();
  }
}

/**
 * The affiliates' postback endpoint states (docs/commissions.md, “Outbound postbacks”), as every
 * process sees them: a NATS KV bucket, watched and mirrored in memory. The dispatchers of every
 * worker count failures into it and the edge's API lists and re-enables from it, so a change is
 * written compare-and-set on the entry's revision: two writers never lose each other's count.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV, KvEntry } from '@nats-io/kv';
import type { ClusterConfig } from './config.ts';
import { mirrorBucket } from './kvMirror.ts';
import { openPostbackEndpointsBucket } from './natsSetup.ts';
import { freshEndpoint, type EndpointState } from './postbacks.ts';

/** JetStream's answer to a write whose expected revision is no longer the entry's. */
const WRONG_LAST_SEQUENCE = 10071;
/** Writers racing for one entry settle within a few rounds; more means something else is wrong. */
const MAX_ROUNDS = 20;

/** An endpoint's state before and after a change (the same object when nothing changed). */
export interface EndpointChange {
  before: EndpointState;
  after: EndpointState;
}

function parse(affiliateId: string, e: KvEntry | null): EndpointState {
  if (!e || e.operation !== 'PUT' || e.value.length === 0) return freshEndpoint(affiliateId);
  return { ...freshEndpoint(affiliateId), ...(e.json() as Partial<EndpointState>) };
}

/** The endpoint states, mirrored from their bucket. */
export class PostbackEndpoints {
  private readonly states = new Map<string, EndpointState>();
  /** Changes of one affiliate in this process run one after the other: fewer revision conflicts. */
  private readonly chains = new Map<string, Promise<unknown>>();
  private stopWatch: () => void = () => {};

  private constructor(private readonly kv: KV) {}

  /** Open the bucket and resolve once the current states are loaded. */
  static async open(nc: NatsConnection, cfg: ClusterConfig, onError: (err: unknown) => void): Promise<PostbackEndpoints> {
    const p = new PostbackEndpoints(await openPostbackEndpointsBucket(nc, cfg));
    p.stopWatch = await mirrorBucket(p.kv, (key, value) => p.apply(key, value), onError);
    return p;
  }

  private apply(key: string, value: Uint8Array | null): void {
    if (value === null || value.length === 0) this.states.delete(key);
    else this.states.set(key, { ...freshEndpoint(key), ...(JSON.parse(Buffer.from(value).toString('utf8')) as Partial<EndpointState>) });
  }

  /** The state of an affiliate's endpoint as last seen (fresh when it has none). */
  get(affiliateId: string): EndpointState {
    return this.states.get(affiliateId) ?? freshEndpoint(affiliateId);
  }

  /** Every endpoint that has a state, by affiliate id. */
  list(): EndpointState[] {
    return [...this.states.values()].sort((a, b) => (a.affiliateId < b.affiliateId ? -1 : a.affiliateId > b.affiliateId ? 1 : 0));
  }

  /**
   * Change an endpoint's state: `change` gets the stored state and returns the next one (or the
   * same object: nothing is written). Re-run on the newer state when another process wrote first.
   */
  update(affiliateId: string, change: (current: EndpointState) => EndpointState): Promise<EndpointChange> {
    const run = (this.chains.get(affiliateId) ?? Promise.resolve()).catch(() => undefined).then(() => this.write(affiliateId, change));
    this.chains.set(affiliateId, run);
    void run.finally(() => {
      if (this.chains.get(affiliateId) === run) this.chains.delete(affiliateId);
    }).catch(() => undefined);
    return run;
  }

  private async write(affiliateId: string, change: (current: EndpointState) => EndpointState): Promise<EndpointChange> {
    for (let round = 1; ; round++) {
      const entry = await this.kv.get(affiliateId);
      const before = parse(affiliateId, entry);
      const after = change(before);
      if (after === before) return { before, after };
      const text = JSON.stringify(after);
      try {
        if (entry) await this.kv.update(affiliateId, text, entry.revision);
        else await this.kv.create(affiliateId, text);
        this.states.set(affiliateId, after);
        return { before, after };
      } catch (err) {
        if ((err as { code?: unknown }).code !== WRONG_LAST_SEQUENCE || round >= MAX_ROUNDS) throw err;
      }
    }
  }

  /** Stop watching. */
  close(): void {
    this.stopWatch();
  }
}

/**
 * Names of everything the cluster creates on NATS, derived from the namespace so that several
 * clusters (or test runs) can share one server.
 */
import type { ClusterConfig } from './config.ts';
import type { FraudAlert } from './fraud.ts';

/** NATS names for a namespace. */
export interface NatsNames {
  /** The one event stream: every partition's ordered input. */
  stream: string;
  /** Subject filter of the stream. */
  streamSubjects: string;
  /** Subject of partition `p`: everything its actors see arrives here, in one order. */
  partitionSubject(p: number): string;
  /** Durable consumer of partition `p`. */
  consumer(p: number): string;
  /** KV bucket holding the catalog (brands, affiliates, links). */
  catalogBucket: string;
  /** Stream of fraud alerts (SPEC §7), kept apart from the partitions' input. */
  fraudStream: string;
  /** Subject every fraud alert is published on (JSON {@link FraudAlert}). */
  fraudAlerts: string;
  /** KV bucket of the pauses and blocks in force, watched by every edge. */
  fraudBucket: string;
}

/** The NATS names of `cfg`'s namespace. */
export function natsNames(cfg: Pick<ClusterConfig, 'namespace'>): NatsNames {
  const ns = cfg.namespace;
  return {
    stream: `${ns.toUpperCase()}_EVENTS`,
    streamSubjects: `${ns}.ev.>`,
    partitionSubject: (p) => `${ns}.ev.${p}`,
    consumer: (p) => `part-${p}`,
    catalogBucket: `${ns}_catalog`,
    fraudStream: `${ns.toUpperCase()}_FRAUD`,
    fraudAlerts: `${ns}.fraud.alerts`,
    fraudBucket: `${ns}_fraud`,
  };
}

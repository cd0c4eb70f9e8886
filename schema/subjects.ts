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
  /** The partition of a partition subject (undefined for any other subject). */
  partitionOf(subject: string): number | undefined;
  /** Durable consumer of partition `p` alone (a worker owning some partitions on NATS 2.9). */
  consumer(p: number): string;
  /** Durable consumer of every partition (a worker owning them all: workers/runtime/partitionConsumers.ts). */
  allPartitionsConsumer: string;
  /** KV bucket holding the catalog (brands, affiliates, links). */
  catalogBucket: string;
  /** Stream of fraud alerts (docs/fraud.md, “Alerts and pauses”), kept apart from the partitions' input. */
  fraudStream: string;
  /** Subject every fraud alert is published on (JSON {@link FraudAlert}). */
  fraudAlerts: string;
  /** KV bucket of the pauses and blocks in force, watched by every edge. */
  fraudBucket: string;
  /** Work-queue stream of outbound postbacks still to deliver (docs/commissions.md). */
  postbackStream: string;
  /** Subject of the postback jobs (JSON `PostbackJob`, `Nats-Msg-Id` = the job's id). */
  postbackSubject: string;
  /** Durable consumer of the postback jobs, shared by every worker process. */
  postbackConsumer: string;
  /** KV bucket of each affiliate endpoint's state (failures, disabled), seen by every worker and edge. */
  postbackEndpointsBucket: string;
  /** KV bucket of the jobs being retried (attempts so far, when the first was), so a restart keeps their schedule. */
  postbackJobsBucket: string;
  /** Core NATS subject on which endpoints disabled and re-enabled are announced (JSON `PostbackEndpointEvent`). */
  postbackAlerts: string;
}

/** The NATS names of `cfg`'s namespace. */
export function natsNames(cfg: Pick<ClusterConfig, 'namespace'>): NatsNames {
  const ns = cfg.namespace;
  return {
    stream: `${ns.toUpperCase()}_EVENTS`,
    streamSubjects: `${ns}.ev.>`,
    partitionSubject: (p) => `${ns}.ev.${p}`,
    partitionOf: (subject) => {
      const prefix = `${ns}.ev.`;
      if (!subject.startsWith(prefix)) return undefined;
      const p = Number(subject.slice(prefix.length));
      return Number.isSafeInteger(p) && p >= 0 ? p : undefined;
    },
    consumer: (p) => `part-${p}`,
    allPartitionsConsumer: 'partitions',
    catalogBucket: `${ns}_catalog`,
    fraudStream: `${ns.toUpperCase()}_FRAUD`,
    fraudAlerts: `${ns}.fraud.alerts`,
    fraudBucket: `${ns}_fraud`,
    postbackStream: `${ns.toUpperCase()}_POSTBACKS`,
    postbackSubject: `${ns}.postbacks`,
    postbackConsumer: 'postbacks',
    postbackEndpointsBucket: `${ns}_postback_endpoints`,
    postbackJobsBucket: `${ns}_postback_jobs`,
    postbackAlerts: `${ns}.postbacks.alerts`,
  };
}

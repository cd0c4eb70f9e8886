/**
 * Names of everything the cluster creates on NATS, derived from the namespace so that several
 * clusters (or test runs) can share one server.
 */
import type { ClusterConfig } from './config.ts';

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
  };
}

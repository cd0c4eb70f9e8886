/**
 * The progress of the postback jobs being retried or held (attempts so far, when their retry time
 * started, when they are due), in a KV bucket: a job's redelivery may reach another worker
 * process, or this one after a restart, and must go on with the same schedule and attempt numbers.
 * A job delivered for the first time has no entry, so only retried and held jobs cost a round trip.
 */
import type { KV } from '@nats-io/kv';
import type { JobProgress } from './schedule.ts';

/** Job ids may hold any character; KV keys may not. */
const keyOf = (jobId: string) => Buffer.from(jobId, 'utf8').toString('base64url');

/** Reads and writes job progress. */
export class JobProgressStore {
  constructor(private readonly kv: KV) {}

  /** The progress of `jobId`, or undefined when it has none. */
  async get(jobId: string): Promise<JobProgress | undefined> {
    const e = await this.kv.get(keyOf(jobId));
    return e && e.operation === 'PUT' && e.value.length > 0 ? (e.json() as JobProgress) : undefined;
  }

  /** Store the progress of `jobId`. */
  async put(jobId: string, p: JobProgress): Promise<void> {
    await this.kv.put(keyOf(jobId), JSON.stringify(p));
  }
}

/**
 * Where the time of trigger → pause goes, hop by hop, from the timestamps JetStream gave each
 * message the path left in the stream (the edge answers a registration once it is stored, so the
 * path starts there): the farm's sixth registration (`events`), its click's
 * resolution (`resolved`), the attributed registration forwarded to the affiliate's partition
 * (`forwarded`), then the pause entry in the fraud bucket and the moment the pauses API listed it.
 * Read after the load, from the run's own stream, so measuring adds nothing to the path.
 */
import { jetstream, DeliverPolicy } from '@nats-io/jetstream';
import { type ClusterConfig, connectNats, decodeEventBatch, decodeForwarded, decodeResolutions, KIND_HEADER, natsNames, openFraudBucket } from '../../schema/mod.ts';
import { latencySummary } from './stats.ts';

/** What identifies one probe's path. */
export interface HopProbe {
  /** The sixth registration's event id (its player id is the same). */
  eventId: string;
  brandId: string;
  subId: string;
  /** Wall clock (epoch ms) when the edge answered the sixth registration. */
  answeredAt: number;
  /** Wall clock (epoch ms) when the pauses API first listed the sub-ID. */
  listedAt?: number;
}

/** One hop's latency over the probes that completed it. */
export interface HopSummary {
  hop: string;
  /** What runs during the hop. */
  covers: string;
  probes: number;
  p50: number;
  p99: number;
  max: number;
}

interface Marks {
  event?: number;
  resolved?: number;
  forwarded?: number;
  paused?: number;
}

const HOPS: Array<{ hop: string; covers: string; from: (p: HopProbe, m: Marks) => number | undefined; to: (p: HopProbe, m: Marks) => number | undefined }> = [
  { hop: 'registration → resolution', covers: 'worker: consume the registration, find its click, publish the resolution', from: (_, m) => m.event, to: (_, m) => m.resolved },
  { hop: 'resolution → forward', covers: "worker: consume the resolution, attribute, publish to the affiliate's partition", from: (_, m) => m.resolved, to: (_, m) => m.forwarded },
  { hop: 'forward → pause in the bucket', covers: 'worker: consume the forward, run the rule, put the pause', from: (_, m) => m.forwarded, to: (_, m) => m.paused },
  { hop: 'pause in the bucket → listed by the API', covers: "edge: the bucket watch; the harness's poll every few ms", from: (_, m) => m.paused, to: (p) => p.listedAt },
  { hop: 'answered → listed by the API', covers: 'the whole path', from: (p) => p.answeredAt, to: (p) => p.listedAt },
];

/** Per hop, p50/p99/max over the probes whose path shows both ends. */
export async function pauseHops(cfg: ClusterConfig, probes: readonly HopProbe[]): Promise<HopSummary[]> {
  const marks = new Map<string, Marks>(probes.map((p) => [p.eventId, {}]));
  const bySub = new Map(probes.map((p) => [p.subId, p.eventId]));
  const players = new Map(probes.map((p) => [`${p.brandId}:${p.eventId}`, p.eventId]));
  const nc = await connectNats(cfg, `${cfg.namespace}-bench-hops`);
  try {
    const names = natsNames(cfg);
    const js = jetstream(nc);
    const last = (await (await js.streams.get(names.stream)).info()).state.last_seq;
    const consumer = await js.consumers.get(names.stream, { deliver_policy: DeliverPolicy.All });
    const messages = await consumer.consume({ max_messages: 1000 });
    for await (const m of messages) {
      const at = m.info.timestampNanos / 1e6;
      const kind = m.headers?.get(KIND_HEADER) || 'clicks';
      if (kind === 'events') {
        for (const e of decodeEventBatch(m.data).events) {
          const mk = marks.get(e.eventId);
          if (mk) mk.event ??= at;
        }
      } else if (kind === 'resolved') {
        for (const r of decodeResolutions(m.data)) {
          const id = players.get(r.playerKey);
          if (id !== undefined) (marks.get(id) as Marks).resolved ??= at;
        }
      } else if (kind === 'forwarded') {
        for (const item of decodeForwarded(m.data).items) {
          const reg = item.message.type === 'RegistrationAttributed' ? (item.message.reg as { playerId: string }) : undefined;
          const mk = reg && marks.get(reg.playerId);
          if (mk) mk.forwarded ??= at;
        }
      }
      if (m.seq >= last) break;
    }
    messages.stop();
    const kv = await openFraudBucket(nc, cfg);
    for await (const key of await kv.keys()) {
      const e = await kv.get(key);
      if (!e || e.operation !== 'PUT') continue;
      const id = bySub.get((e.json() as { sub_id: string }).sub_id);
      if (id !== undefined) (marks.get(id) as Marks).paused = e.created.getTime();
    }
  } finally {
    await nc.close();
  }
  return HOPS.map(({ hop, covers, from, to }) => {
    const samples = probes.flatMap((p) => {
      const m = marks.get(p.eventId) as Marks;
      const [a, b] = [from(p, m), to(p, m)];
      return a === undefined || b === undefined ? [] : [b - a];
    });
    return { hop, covers, probes: samples.length, ...latencySummary(samples) };
  });
}

/**
 * The catalog as every process sees it: a NATS KV bucket, watched, mirrored in memory. Reads never
 * leave the process (the redirect looks links up here), and a write anywhere reaches every
 * watcher within milliseconds, well inside a second (docs/architecture.md).
 */
import { mirrorBucket } from './kvMirror.ts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { KV } from '@nats-io/kv';
import type { ClusterConfig } from './config.ts';
import { openCatalogBucket } from './natsSetup.ts';
import { ADDED_FIELDS, CATALOG_KINDS, type Affiliate, type Brand, type CatalogKind, type CatalogRecords, type Link, type Rate } from './catalog.ts';
import type { Plan } from './plans.ts';

export type { CatalogRecords } from './catalog.ts';

const KINDS = CATALOG_KINDS;

const ADDED: { [K in CatalogKind]?: object } = ADDED_FIELDS;

/** An in-memory mirror of the catalog bucket, kept current by a KV watch. */
export class Catalog {
  readonly brands = new Map<string, Brand>();
  readonly affiliates = new Map<string, Affiliate>();
  readonly links = new Map<string, Link>();
  readonly rates = new Map<string, Rate>();
  readonly plans = new Map<string, Plan>();

  private constructor(private readonly kv: KV, private readonly onError: (err: unknown) => void) {}

  /** Open the bucket and resolve once the current contents are loaded. */
  static async open(nc: NatsConnection, cfg: ClusterConfig, onError: (err: unknown) => void): Promise<Catalog> {
    const kv = await openCatalogBucket(nc, cfg);
    const catalog = new Catalog(kv, onError);
    await catalog.watch();
    return catalog;
  }

  private map<K extends CatalogKind>(kind: K): Map<string, CatalogRecords[K]> {
    return this[kind] as Map<string, CatalogRecords[K]>;
  }

  private apply(key: string, value: Uint8Array | null): void {
    const dot = key.indexOf('.');
    const kind = key.slice(0, dot) as CatalogKind;
    if (!KINDS.includes(kind)) return;
    const id = key.slice(dot + 1);
    if (value === null || value.length === 0) this.map(kind).delete(id);
    else this.map(kind).set(id, { ...ADDED[kind], ...JSON.parse(Buffer.from(value).toString('utf8')) });
  }

  private async watch(): Promise<void> {
    this.stopWatch = await mirrorBucket(this.kv, (key, value) => this.apply(key, value), this.onError);
  }

  private stopWatch: () => void = () => {};

  /** One record, or undefined. */
  get<K extends CatalogKind>(kind: K, id: string): CatalogRecords[K] | undefined {
    return this.map(kind).get(id);
  }

  /** Every record of a kind, sorted by id. */
  list<K extends CatalogKind>(kind: K): CatalogRecords[K][] {
    return [...this.map(kind).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }

  /** Store a record; this process sees it at once, the others through their watch. */
  async put<K extends CatalogKind>(kind: K, id: string, record: CatalogRecords[K]): Promise<void> {
    const bytes = Buffer.from(JSON.stringify(record));
    await this.kv.put(`${kind}.${id}`, bytes);
    this.apply(`${kind}.${id}`, bytes);
  }

  /** Delete a record. */
  async delete(kind: CatalogKind, id: string): Promise<void> {
    await this.kv.delete(`${kind}.${id}`);
    this.apply(`${kind}.${id}`, null);
  }

  /** Stop watching. */
  close(): void {
    this.stopWatch();
  }
}

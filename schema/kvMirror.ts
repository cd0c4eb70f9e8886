/**
 * An in-memory mirror of a NATS KV bucket: every current entry, then every change, handed to
 * `apply` (`null` for a deletion). The catalog and the fraud pauses are both kept this way, so a
 * change reaches every process within milliseconds and nothing is fetched per request.
 */
import type { KV } from '@nats-io/kv';

/** Resolves once the bucket's current contents were applied; the result stops the watch. */
export async function mirrorBucket(kv: KV, apply: (key: string, value: Uint8Array | null) => void, onError: (err: unknown) => void): Promise<() => void> {
  const pending = (await kv.status()).values;
  const iter = await kv.watch({ key: '>' });
  let stopped = false;
  let resolveLoaded!: () => void;
  const loaded = new Promise<void>((r) => (resolveLoaded = r));
  if (pending === 0) resolveLoaded();
  void (async () => {
    try {
      for await (const e of iter) {
        if (stopped) break;
        apply(e.key, e.operation === 'PUT' ? e.value : null);
        if (e.delta === 0 || e.isUpdate) resolveLoaded();
      }
    } catch (err) {
      onError(err);
    }
  })();
  await loaded;
  return () => {
    stopped = true;
    iter.stop();
  };
}

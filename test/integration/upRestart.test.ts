/**
 * `affstream up` keeps its processes running (cli/commands/up.ts): a worker or an edge killed
 * with -9 once the cluster is up is started again in its slot, the state file names the new pid,
 * and the totals stay exact — the new worker recovers from ClickHouse and the stream.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAliveAs } from '../../cli/proc.ts';
import { readUpState } from '../../cli/upState.ts';
import { BROWSER_UA, click, freePort, TestCluster, waitFor } from './cluster.ts';

const cluster = new TestCluster('up');
let env: Record<string, string>;
let edgePort: number;
let metricsPort: number;

beforeAll(async () => {
  edgePort = await freePort();
  metricsPort = await freePort();
  env = { AFFSTREAM_DATA_DIR: cluster.cfg.dataDir, AFFSTREAM_EDGE_HOST: '127.0.0.1', AFFSTREAM_EDGE_PORT: String(edgePort), AFFSTREAM_WORKER_METRICS_PORT: String(metricsPort) };
  const up = await cluster.cli(['up', '--detach'], env);
  expect(up.code, up.stderr).toBe(0);
});

afterAll(async () => {
  await cluster.cli(['down'], env);
  await cluster.teardown();
});

const pidOf = (kind: 'edge' | 'worker') => readUpState(cluster.cfg)?.children.find((c) => c.kind === kind)?.pid as number;

/** Clicks on the demo link; resolves with the number of 302s. */
async function clicks(n: number): Promise<number> {
  let redirected = 0;
  for (let i = 0; i < n; i++) if ((await click(edgePort, 'demo1', `sub1=u${i}`, { 'user-agent': BROWSER_UA })).status === 302) redirected++;
  return redirected;
}

async function stored(n: number): Promise<void> {
  await waitFor(`${n} clicks in ClickHouse`, async () => ((await cluster.query<{ n: number }>('SELECT count() AS n FROM clicks'))[0]?.n === n ? true : undefined), 90_000, 250);
}

/** Kill the process of `kind` with -9 and wait for its replacement to be up. */
async function killAndAwaitRestart(kind: 'edge' | 'worker'): Promise<void> {
  const before = pidOf(kind);
  process.kill(before, 'SIGKILL');
  const script = kind === 'edge' ? 'node/main.ts' : 'workers/main.ts';
  await waitFor(`a new ${kind} process`, async () => {
    const now = pidOf(kind);
    return now !== undefined && now !== before && isAliveAs(now, script) ? true : undefined;
  }, 60_000, 200);
  const url = kind === 'edge' ? `http://127.0.0.1:${edgePort}/readyz` : `http://127.0.0.1:${metricsPort}/readyz`;
  await waitFor(`the new ${kind} ready`, async () => ((await fetch(url).catch(() => undefined))?.status === 200 ? true : undefined), 60_000, 200);
}

describe('affstream up supervision', () => {
  it('restarts a worker and an edge killed with -9; totals exact', async () => {
    let total = await clicks(30);
    await stored(total);
    await killAndAwaitRestart('worker');
    total += await clicks(30);
    await stored(total);
    // Clicks an edge answered but had not published yet die with it: kill it only once they are stored.
    await killAndAwaitRestart('edge');
    total += await clicks(30);
    expect(total).toBe(90);
    await stored(total);
    const [raw] = await cluster.query<{ n: number; ids: number }>('SELECT count() AS n, uniqExact(click_id) AS ids FROM clicks');
    expect(raw).toEqual({ n: 90, ids: 90 });
  });
});

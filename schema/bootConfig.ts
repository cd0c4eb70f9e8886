/**
 * Loads `cluster.config.ts`, applies the environment and validates: what every process calls at
 * boot. A bad value stops the process with a message naming key, value and what is allowed.
 */
import { loadConfig, type ClusterConfig, type ClusterConfigInput } from './config.ts';

/** The validated config of this deployment, with `overrides` (tests, CLI flags) applied last. */
export async function bootConfig(overrides: ClusterConfigInput = {}, env = process.env): Promise<ClusterConfig> {
  const file = (await import('../cluster.config.ts')).default as ClusterConfigInput;
  const merged: ClusterConfigInput = { ...file };
  for (const [k, v] of Object.entries(overrides) as [keyof ClusterConfigInput, unknown][]) {
    const cur = merged[k];
    (merged as Record<string, unknown>)[k] =
      typeof cur === 'object' && cur !== null && typeof v === 'object' && v !== null && !Array.isArray(v) ? { ...cur, ...v } : v;
  }
  return loadConfig(merged, env);
}

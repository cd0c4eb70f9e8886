/**
 * The cluster's topology and settings. Every key, its default and the environment variable that
 * overrides it are documented in schema/config.ts and docs/configuration.md; this file holds only
 * what this deployment changes. Validated at boot.
 */
import { defineCluster } from './schema/config.ts';

export default defineCluster({
  partitions: 64,
  edge: { count: 1, port: 8080 },
  worker: { count: 1 },
});

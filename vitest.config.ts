/**
 * Two projects: `unit` (no servers, runs anywhere in seconds) and `integration` (real NATS,
 * ClickHouse and Redis, started once for the run by test/globalSetup.ts). Integration files run
 * one at a time: they share those servers, and some stop and restart them.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/globalSetup.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});

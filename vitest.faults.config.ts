import { defineConfig } from 'vitest/config';

/**
 * The fault-injection suite (npm run test:faults): the service as separate processes against real PostgreSQL, a NATS
 * server of the suite's own and faulty provider doubles. One file at a time: each starts processes and servers that
 * would compete for the machine's two or so cores with any other.
 */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.faults.ts'],
    testTimeout: 20 * 60_000,
    hookTimeout: 5 * 60_000,
    pool: 'forks',
    fileParallelism: false,
  },
});

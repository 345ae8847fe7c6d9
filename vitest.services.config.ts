import { defineConfig } from 'vitest/config';

// Suites that need real servers (Kafka, a MongoDB-wire server, libvirt/QEMU). Run through
// `npm run test:services`, which starts the servers first and exports where they listen.
export default defineConfig({
  test: {
    include: ['test/services/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    pool: 'forks',
    fileParallelism: false,
  },
});

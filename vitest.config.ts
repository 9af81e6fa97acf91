import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration and e2e tests start real emulators on random 127.0.0.1 ports; give them room.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time: most integration and e2e files spend their time waiting on emulators
    // and child processes, so on a 2-core machine a second file fills the idle core (vitest's default
    // here would be one).
    maxWorkers: 2,
    reporters: ['default'],
  },
});

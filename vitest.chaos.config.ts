import { defineConfig } from 'vitest/config';

/**
 * The chaos suite (`npm run test:chaos`, docs/reliability.md): real gateway processes, a real
 * redis-server per scenario, SIGTERM / SIGKILL / Redis outages / a flapping webhook receiver.
 * Files are `*.chaos.ts`, so the main config (`*.test.ts` under tests/) never picks them up. One file
 * at a time: each scenario loads the machine on its own.
 */
export default defineConfig({
  test: {
    include: ['tests/chaos/**/*.chaos.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: false,
    reporters: ['default'],
  },
});

import { defineConfig } from 'vitest/config';

/** The opt-in live tests (a machine that reaches WhatsApp): `WEBJS_LIVE=1 npm run test:live`. */
export default defineConfig({
  test: {
    include: ['tests/live/**/*.live.ts'],
    globalSetup: ['tests/helpers/redis-global-setup.ts'],
    testTimeout: 6 * 60_000,
    pool: 'forks',
  },
});

import { defineConfig } from 'vitest/config';

/**
 * One real PostgreSQL 17 per test run (tests/setup/global.ts): platform
 * bootstrap, our migrations and seed applied by the Supabase CLI. Test files
 * share it and keep apart by creating their own users.
 *
 * `@chat-with-me/shared` resolves to its TypeScript source (the package's
 * `source` export condition), so tests never run against a stale build;
 * tests/shared/plain-node.test.ts checks the built package from plain Node.
 */
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'], externalConditions: ['source'] } },
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/setup/global.ts'],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});

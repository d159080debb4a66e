import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite takes ~1 GB while it opens: two files at a time fit this 2-core machine well.
    maxWorkers: 2,
  },
});

import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));
// What the commands keep in the user's cache folder (chat read marks, log-in keys) goes here
// in tests, not into the home of whoever runs them.
const env = {
  SOCKIT_CACHE_DIR: fileURLToPath(new URL('./node_modules/.cache/sockit-test/', import.meta.url)),
};

export default defineConfig({
  test: {
    projects: [
      {
        // The package's own names, for the examples, read from the sources as tsconfig's `paths` does.
        resolve: {
          alias: [
            { find: /^sockit$/, replacement: `${src}index.ts` },
            { find: /^sockit\/(\w+)$/, replacement: `${src}$1/index.ts` },
          ],
        },
        test: {
          name: 'unit',
          env,
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          exclude: ['test/interop/**', 'test/browser/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'interop',
          env,
          include: ['test/interop/**/*.test.ts'],
          testTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Debian's chromium driven by playwright-core (scripts/setup.sh installs it).
          name: 'browser',
          env,
          include: ['test/browser/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

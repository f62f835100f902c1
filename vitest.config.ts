import { defineConfig } from 'vitest/config';

// Two projects: "unit" runs anywhere, unprivileged, with fake executables;
// "root" runs against the real tools (debootstrap, mkfs, qemu, ...) and needs root.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.root.test.ts', 'node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'root',
          include: ['test/**/*.root.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

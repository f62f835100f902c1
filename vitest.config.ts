import { defineConfig } from 'vitest/config';
import { SeedFirstSequencer } from './test/helpers/root-sequencer.js';

// Three projects: "unit" runs anywhere, unprivileged, with fake executables;
// "root" runs against the real tools (debootstrap, mkfs, qemu, ...) and needs root;
// "vm" boots QEMU TCG guests (plain Linux, or Xen 4.17 + dom0) to test LVM and Xen for real.
// No command a test runs starts a background host key refill that would outlive the test
// (test/customize/host-key-pool.root.test.ts turns it on where it tests it and waits for it).
const env = { XENKIT_HOST_KEY_POOL: 'off' };
export default defineConfig({
  test: {
    sequence: { sequencer: SeedFirstSequencer },
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.root.test.ts', 'test/**/*.vm.test.ts', 'node_modules/**'],
          testTimeout: 20_000,
          env,
        },
      },
      {
        test: {
          name: 'root',
          include: ['test/**/*.root.test.ts'],
          globalSetup: ['test/helpers/root-global-setup.ts'],
          testTimeout: 900_000,
          hookTimeout: 900_000,
          fileParallelism: false,
          env,
        },
      },
      {
        test: {
          name: 'vm',
          include: ['test/**/*.vm.test.ts'],
          testTimeout: 1_200_000,
          hookTimeout: 1_200_000,
          // Two files at a time (largest first: the Xen and the LVM VM, then the others): the
          // suite took 994 s instead of 1 396 s on 2 cores. Each file checks only its own VM's
          // leftovers, and the VM timeouts leave room for the sharing (Xen 869 s, LVM 720 s).
          fileParallelism: true,
          maxWorkers: 2,
          env,
        },
      },
    ],
  },
});

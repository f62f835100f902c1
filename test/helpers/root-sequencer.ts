/**
 * The order of the test files: vitest's own, except that the rootfs-cache root test comes first.
 * It bootstraps the default bookworm guest cold (its subject) and seeds the run's shared xenkit
 * cache with that entry, so the files that share the cache start from it instead of
 * bootstrapping it again (see test/helpers/shared-xenkit-cache.ts).
 */
import { BaseSequencer, type TestSpecification } from 'vitest/node';

const FIRST = 'test/install/rootfs-cache.root.test.ts';

export class SeedFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = sorted.filter((f) => f.moduleId.endsWith(`/${FIRST}`));
    return [...first, ...sorted.filter((f) => !first.includes(f))];
  }
}

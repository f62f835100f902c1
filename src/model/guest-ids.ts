/** The identities a new or cloned guest gets, decided before anything is built. */
import type { FsType } from './guest-spec.js';

/** Identities decided up front by the planner (filesystem UUIDs, the root password's hash). */
export interface GuestIds {
  rootUuid: string;
  rootFs: FsType;
  swapUuid?: string;
  /** The UUID of each `--partitions` volume other than "/" and the first swap (`swapUuid`), by section name. */
  volumeUuids?: Record<string, string>;
  /** A crypt(3) hash ($6$, $5$ or $y$) for root; never the password itself. */
  passwordHash?: string;
}

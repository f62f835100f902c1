/** What storage operations need from a running plan step. */
import type { StepContext } from '../plan/plan.js';

/** The parts of a StepContext storage uses: the undo stack, the log sink and cancellation. */
export type StorageContext = Pick<StepContext, 'undo' | 'sink' | 'signal'>;

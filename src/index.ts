/**
 * xenkit as a library: the same building blocks the commands use. A guest is described
 * (resolveCreateImage: argv and xen-tools.conf layers -> a validated GuestSpec), planned
 * (buildCreateImagePlan: the steps, each with its undo; planToJSON for a dry run) and built
 * (executePlan: runs the steps, unwinding everything on failure or abort). Guests on disk are
 * listed with listImages; domain configs read with parseXlCfg and written with renderGuestCfg;
 * running domains are driven through the driver detectDriver picks. Nothing here prints, prompts
 * or exits: errors are XenkitError (a stable code, a message, a hint; kind usage -> exit 2).
 */
export { XenkitError, ValidationErrors, exitCodeFor, type ErrorKind } from './errors.js';
export { makePaths, resolveRoot, type Paths } from './paths.js';
export type { EventSink, LogEvent } from './log/events.js';
export type { Reporter } from './log/reporter.js';
export type { GuestSpec } from './model/guest-spec.js';
export type { DomainConfig } from './model/domain-config.js';
export type { DomainInfo, DomainState } from './model/domain-state.js';
export { assertGuestName, guestNameProblem } from './model/guest-name.js';
export { parseSize, formatSize } from './model/size.js';
export { resolveCreateImage, type CreateImageRequest } from './config/create-image.js';
export { buildCreateImagePlan, type CreateImageOutcome } from './images/create-image-plan.js';
export { listImages, type ListedGuest, type ListedDisk } from './images/list-images.js';
export { executePlan, type ExecutePlanOptions } from './plan/executor.js';
export { planToJSON, type Plan, type PlanStep, type PlanAction } from './plan/plan.js';
export { parseXlCfg } from './formats/xl-cfg-parse.js';
export { renderGuestCfg } from './formats/xl-cfg-render.js';
export { detectDriver, type DriverChoice } from './hypervisors/detect.js';
export type { HypervisorDriver } from './hypervisors/driver.js';

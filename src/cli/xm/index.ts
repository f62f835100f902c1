/** The domain commands (`xm` verbs), shared by `xm VERB` and `xenkit VERB`. */
import type { Command } from 'commander';
import { addAutostartCommand } from './autostart.js';
import { addConsoleCommand } from './console.js';
import { addCreateCommand } from './create.js';
import type { DomainCommandDeps } from './deps.js';
import { addDestroyCommand } from './destroy.js';
import { addInfoCommand } from './info.js';
import { addListCommand } from './list.js';
import { addMemSetCommand } from './mem-set.js';
import { addMigrateCommand } from './migrate.js';
import { addPauseCommand } from './pause.js';
import { addRebootCommand } from './reboot.js';
import { addSaveCommands } from './save.js';
import { addSchedCreditCommand } from './sched-credit.js';
import { addShutdownCommand } from './shutdown.js';
import { addSysrqCommand } from './sysrq.js';
import { addStartCommand } from './start.js';
import { addUnpauseCommand } from './unpause.js';
import { addUptimeCommand } from './uptime.js';
import { addVcpuSetCommand } from './vcpu-set.js';

export type { AccelInfo, DomainCommandDeps, DomainCommandIO } from './deps.js';
export { processIO } from './deps.js';

/**
 * Adds every domain verb to `program`: create, console, list, shutdown, reboot, destroy, pause,
 * unpause, vcpu-set, mem-set, sched-credit, uptime, autostart, start, info. Configure the program
 * (exitOverride, configureOutput) before calling: subcommands inherit those settings.
 */
export function addDomainCommands(program: Command, deps: DomainCommandDeps): void {
  addCreateCommand(program, deps);
  addConsoleCommand(program, deps);
  addListCommand(program, deps);
  addShutdownCommand(program, deps);
  addRebootCommand(program, deps);
  addDestroyCommand(program, deps);
  addPauseCommand(program, deps);
  addUnpauseCommand(program, deps);
  addVcpuSetCommand(program, deps);
  addMemSetCommand(program, deps);
  addSchedCreditCommand(program, deps);
  addSaveCommands(program, deps);
  addSysrqCommand(program, deps);
  addMigrateCommand(program, deps);
  addUptimeCommand(program, deps);
  addAutostartCommand(program, deps);
  addStartCommand(program, deps);
  addInfoCommand(program, deps);
}

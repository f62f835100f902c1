/** The domain commands (`xm` verbs), shared by `xm VERB` and `xenkit VERB`. */
import type { Command } from 'commander';
import { addAutostartCommand } from './autostart.js';
import { addConsoleCommand } from './console.js';
import { addCreateCommand } from './create.js';
import type { DomainCommandDeps } from './deps.js';
import { addDestroyCommand } from './destroy.js';
import { addDeviceCommands } from './devices.js';
import { addDmesgCommand } from './dmesg.js';
import { addInfoCommand } from './info.js';
import { addListCommand } from './list.js';
import { addMemMaxCommand } from './mem-max.js';
import { addMemSetCommand } from './mem-set.js';
import { addMigrateCommand } from './migrate.js';
import { addPauseCommand } from './pause.js';
import { addRebootCommand } from './reboot.js';
import { addRenameCommand } from './rename.js';
import { addSaveCommands } from './save.js';
import { addSchedCreditCommand } from './sched-credit.js';
import { addShutdownCommand } from './shutdown.js';
import { addSysrqCommand } from './sysrq.js';
import { addTopCommand } from './top.js';
import { addStartCommand } from './start.js';
import { addUnpauseCommand } from './unpause.js';
import { addUptimeCommand } from './uptime.js';
import { addVcpuPinCommands } from './vcpu-pin.js';
import { addVcpuSetCommand } from './vcpu-set.js';

export type { AccelInfo, DomainCommandDeps, DomainCommandIO } from './deps.js';
export { processIO } from './deps.js';

/**
 * Adds every domain verb to `program`: create, console, list, shutdown, reboot, destroy, pause,
 * unpause, vcpu-set, mem-set, mem-max, vcpu-list, vcpu-pin, sched-credit, save, restore, sysrq,
 * block- and network-attach/-detach/-list, dmesg, top, rename, uptime, autostart, start, info. Configure the program
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
  addMemMaxCommand(program, deps);
  addVcpuPinCommands(program, deps);
  addSchedCreditCommand(program, deps);
  addSaveCommands(program, deps);
  addSysrqCommand(program, deps);
  addMigrateCommand(program, deps);
  addDeviceCommands(program, deps);
  addDmesgCommand(program, deps);
  addTopCommand(program, deps);
  addRenameCommand(program, deps);
  addUptimeCommand(program, deps);
  addAutostartCommand(program, deps);
  addStartCommand(program, deps);
  addInfoCommand(program, deps);
}

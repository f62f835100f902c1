/** `xm rename OLD NEW`: a guest's name, running or stopped. */
import type { Command } from 'commander';
import { usageError } from '../../errors.js';
import { moveGuestFiles, planRename } from '../../hypervisors/rename-config.js';
import type { DomainCommandDeps } from './deps.js';
import { addCommonOptions, flagsOf, requireVerb, Session } from './session.js';

/** Registers `rename`. */
export function addRenameCommand(program: Command, deps: DomainCommandDeps): void {
  const command = program
    .command('rename')
    .summary('rename a guest, running or stopped')
    .description(
      'Give guest OLD the name NEW: its cfg /etc/xen/OLD.cfg becomes NEW.cfg (its name line changed), ' +
        'its autostart link follows, and a running domain is renamed too (xl rename on Xen; under QEMU ' +
        'its runtime state, while its QEMU process keeps the old -name until it restarts). Never over an ' +
        'existing name: NEW must have no cfg, autostart link or running domain. The images, the creation ' +
        "log and the guest's own hostname keep the old name (the cfg still points at the images).",
    )
    .argument('<old>', 'current name')
    .argument('<new>', 'new name');
  addCommonOptions(command).action(async (oldName: string, newName: string, _o: unknown, cmd: Command) => {
    const session = new Session(deps, flagsOf(cmd));
    session.guestName(oldName, 'rename');
    session.guestName(newName, 'rename');
    if (oldName === newName) {
      throw usageError('E_RENAME', `"${oldName}" is already its name`, 'give a different new name');
    }
    const plan = planRename(session.paths, oldName, newName);
    const driver = await session.driver();
    const running = await driver.list();
    if (running.some((d) => d.name === newName)) {
      throw usageError(
        'E_RENAME',
        `a domain "${newName}" is running: the name is taken`,
        'choose a name no guest has',
      );
    }
    const domain = running.find((d) => d.name === oldName);
    if (!domain && !plan.oldCfg) {
      throw usageError(
        'E_RENAME',
        `no guest "${oldName}": no ${plan.newCfg.replace(/[^/]*$/, `${oldName}.cfg`)} and no running domain`,
        `see the guests with: ${session.prog} list --all`,
      );
    }
    const rename = domain ? requireVerb(driver, 'rename', 'rename') : undefined;
    const undo = moveGuestFiles(plan, oldName, newName);
    try {
      await rename?.(oldName, newName, plan.oldCfg ? { cfgPath: plan.newCfg } : {});
    } catch (error) {
      undo();
      throw error;
    }
    session.report(
      `Renamed ${domain ? `domain ${oldName} (id=${domain.id})` : `guest ${oldName}`} to ${newName}` +
        (plan.oldCfg ? `; config ${plan.newCfg}` : ''),
      {
        ok: true,
        action: 'rename',
        domain: oldName,
        newName,
        running: domain !== undefined,
        cfgPath: plan.oldCfg ? plan.newCfg : null,
        autostart: plan.oldLink !== undefined,
      },
    );
  });
}

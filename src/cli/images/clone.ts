/** `xenkit clone SRC NEW`: a full or linked copy of a stopped guest with an identity of its own. */
import type { Command } from 'commander';
import { refillDrawnPools } from '../../customize/host-key-pool.js';
import { ErrorCollector } from '../../errors.js';
import { buildClonePlan, type CloneOptions } from '../../images/clone-plan.js';
import { parseMac } from '../../model/mac.js';
import { parseIpWithPrefix, prefixFromNetmask } from '../../model/net-address.js';
import { planToJSON } from '../../plan/plan.js';
import { recoverBeforeRun, runLoggedPlan } from '../plan-run.js';
import { renderPlan } from '../render-plan.js';
import { pathsFor, writeJson, type ImageCommandDeps } from './deps.js';
import { renderCloneSummary } from './render-clone.js';

interface CloneFlags {
  linked?: boolean;
  dir?: string;
  ip?: string[];
  netmask?: string;
  gateway?: string;
  nameserver?: string[];
  dhcp?: boolean;
  mac?: string;
  randommac?: boolean;
  dryRun?: boolean;
  json?: boolean;
  quiet?: boolean;
  root?: string;
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Turns the flags into CloneOptions, reporting every bad one at once. */
export function cloneOptionsFrom(source: string, hostname: string, flags: CloneFlags): CloneOptions {
  const errors = new ErrorCollector();
  if (flags.dhcp && flags.ip?.length)
    errors.add('E_USAGE', 'options --dhcp and --ip exclude each other', 'give one of them');
  if (flags.mac && flags.randommac)
    errors.add('E_USAGE', 'options --mac and --randommac exclude each other', 'give one of them');
  const maskPrefix = flags.netmask
    ? errors.attempt(() => prefixFromNetmask(flags.netmask!, '--netmask'))
    : undefined;
  const addresses = (flags.ip ?? []).flatMap((text) => {
    const parsed = errors.attempt(() => parseIpWithPrefix(text, '--ip'));
    if (!parsed) return [];
    const prefix = parsed.prefix ?? maskPrefix ?? (parsed.address.family === 4 ? 24 : 64);
    return [{ address: parsed.address.text, prefix }];
  });
  const mac = flags.mac ? errors.attempt(() => parseMac(flags.mac!, '--mac')) : undefined;
  errors.throwIfAny();
  return {
    source,
    hostname,
    linked: flags.linked === true,
    dir: flags.dir,
    network: flags.dhcp
      ? { mode: 'dhcp' }
      : addresses.length > 0
        ? { mode: 'static', addresses, gateway: flags.gateway, nameservers: flags.nameserver ?? [] }
        : undefined,
    mac: mac ? { kind: 'given', mac } : flags.randommac ? { kind: 'random' } : { kind: 'derived' },
  };
}

/** Registers `clone`. */
export function addCloneCommand(program: Command, deps: ImageCommandDeps): void {
  program
    .command('clone')
    .summary('copy a stopped guest (full or linked) with a new identity')
    .description(
      'Copy the stopped guest SRC as NEW: every image copied sparsely (full clone, the default) or a ' +
        'qcow2 overlay per image on the source (--linked: instant, but the source images become ' +
        'read-only for good). The clone gets its own host name, MAC, SSH host keys, empty machine-id, ' +
        'random seed and filesystem UUIDs (fstab and menu.lst follow), its own /etc/xen/NEW.cfg and log.',
    )
    .argument('<src>', 'the guest to copy (must be stopped)')
    .argument('<new>', 'host name of the clone (NAME or NAME.DOMAIN)')
    .option('--linked', 'qcow2 overlays on the source images instead of copies')
    .option('--dir <dir>', "put the clone's images in DIR/domains/NEW (default: beside the source's)")
    .option('--ip <address>', 'static address (ADDRESS or ADDRESS/PREFIX; repeat for more)', collect)
    .option('--netmask <mask>', 'netmask for --ip addresses without a prefix')
    .option('--gateway <address>', 'default gateway for --ip')
    .option('--nameserver <address>', 'DNS server for --ip (repeatable)', collect)
    .option('--dhcp', 'configure the network by DHCP')
    .option('--mac <mac>', 'MAC address of the clone (default: derived from the name as xen-tools does)')
    .option('--randommac', 'a random MAC under the Xen prefix 00:16:3E')
    .option('--dry-run', 'print the plan and change nothing')
    .option('--json', 'print the result as JSON')
    .option('--quiet', 'no progress output')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (src: string, name: string, flags: CloneFlags) => {
      const paths = pathsFor(deps, flags.root);
      const options = { ...cloneOptionsFrom(src, name, flags), running: { xl: deps.xl } };
      if (!flags.dryRun) await recoverBeforeRun(paths, deps.io);
      const { plan, outcome } = await buildClonePlan(paths, options);
      if (flags.dryRun) {
        if (flags.json) writeJson(deps.io, { ok: true, dryRun: true, plan: planToJSON(plan) });
        else deps.io.stdout.write(renderPlan(plan));
        return;
      }
      const totalMs = await runLoggedPlan(plan, {
        paths,
        journal: `clone ${src} ${name}`,
        io: deps.io,
        log: outcome.logPath,
        header: `xenkit clone ${src} ${name} (${outcome.mode})`,
        quiet: flags.quiet === true || flags.json === true,
        env: deps.env ?? process.env,
        failureNamesLog: true,
        afterRun: (sink) => refillDrawnPools(paths.root, sink),
        doneLine: (ms) => `clone done in ${ms} ms: ${JSON.stringify(outcome.timings)}`,
      });
      if (flags.json) writeJson(deps.io, { ok: true, ...outcome, totalMs });
      else deps.io.stdout.write(renderCloneSummary(outcome, totalMs));
    });
}

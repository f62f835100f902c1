/**
 * `scripts/vm/run-in-vm.sh`: runs a command in a test VM by hand, prints its output, exits with
 * its status. Options: --xen, --timeout SECONDS, --memory MIB, --cpus N, --scratch MIB (a fresh
 * qcow2 as /dev/vda), --disk PATH[:FORMAT], --keep (keep the temp dir with the console log),
 * --console (print the console), then the command (`--` ends the options).
 */
import { runInVm, VmFailedError, type VmDisk, type VmRunOptions } from './vm.js';

/** Parses the command line of run-in-vm.sh. */
export function parseRunInVmArgs(args: string[]): { options: VmRunOptions; showConsole: boolean } {
  const options: VmRunOptions = { kind: 'linux', command: [], timeoutMs: 600_000, disks: [] };
  let showConsole = false;
  let i = 0;
  const value = (): string => {
    const v = args[++i];
    if (v === undefined) throw new Error(`${args[i - 1]} needs a value`);
    return v;
  };
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('--')) break;
    if (arg === '--xen') options.kind = 'xen';
    else if (arg === '--timeout') options.timeoutMs = Number(value()) * 1000;
    else if (arg === '--memory') options.memoryMiB = Number(value());
    else if (arg === '--cpus') options.cpus = Number(value());
    else if (arg === '--scratch') options.scratchDiskMiB = Number(value());
    else if (arg === '--disk') {
      const [path, format] = value().split(':');
      options.disks!.push({ path: path!, format: (format ?? 'raw') as VmDisk['format'] });
    } else if (arg === '--keep') options.keepTempDir = true;
    else if (arg === '--console') showConsole = true;
    else throw new Error(`unknown option ${arg}`);
  }
  const command = args.slice(i);
  options.command = command.length > 0 ? command : ['bash', '-c', 'uname -a; cat /proc/cmdline'];
  return { options, showConsole };
}

async function main(): Promise<number> {
  const { options, showConsole } = parseRunInVmArgs(process.argv.slice(2));
  try {
    const result = await runInVm(options);
    if (showConsole) process.stderr.write(result.console);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    process.stderr.write(
      `run-in-vm: exit ${result.exitCode}, ready after ${result.bootSeconds} s, ${result.durationMs} ms in all` +
        `${options.keepTempDir ? `, files in ${result.tempDir}` : ''}\n`,
    );
    return result.exitCode;
  } catch (error) {
    process.stderr.write(`run-in-vm: ${error instanceof VmFailedError ? error.message : String(error)}\n`);
    return 125;
  }
}

if (process.argv[1]?.endsWith('run-in-vm-cli.js')) process.exitCode = await main();

/** `xenkit list-images` (and the runner behind `xen-list-images`). */
import type { Command } from 'commander';
import { listImages, type ListOptions } from '../../images/list-images.js';
import type { Paths } from '../../paths.js';
import { pathsFor, writeJson, type ImageCommandDeps } from './deps.js';
import { renderListedGuests } from './render-list.js';

/** Lists the guests as text or JSON. */
export async function runList(
  paths: Paths,
  options: ListOptions,
  json: boolean,
  deps: ImageCommandDeps,
): Promise<number> {
  const guests = await listImages(paths, options);
  if (json) writeJson(deps.io, { ok: true, guests });
  else deps.io.stdout.write(renderListedGuests(guests));
  return 0;
}

/** Registers `list-images`. */
export function addListImagesCommand(program: Command, deps: ImageCommandDeps): void {
  program
    .command('list-images')
    .summary('list the guests in /etc/xen with their disks')
    .description(
      'List every /etc/xen/*.cfg as xen-list-images does (name, memory, IP or DHCP with the MAC, ' +
        'config file), plus each disk (size, space used, format, linked-clone parent), the running state ' +
        'and the linked clones of a base guest.',
    )
    .option('--json', 'print the result as JSON')
    .option('--root <dir>', 'work under DIR instead of / (also XENKIT_ROOT)')
    .action(async (flags: { json?: boolean; root?: string }) => {
      await runList(pathsFor(deps, flags.root), { running: { xl: deps.xl } }, flags.json === true, deps);
    });
}

/** `xenkit list-images` (and the runner behind `xen-list-images`). */
import { usageError } from '../../errors.js';
import { listImages, type ListOptions } from '../../images/list-images.js';
import { openListingCache } from '../../images/listing-cache.js';
import type { Paths } from '../../paths.js';
import { packageVersionOrUndefined } from '../package-version.js';
import { CLOSING_OPTIONS, opt } from './compat-args.js';
import { writeJson, type ImageCommandDeps } from './deps.js';
import type { ImageCommand } from './image-command.js';
import { renderListedGuests } from './render-list.js';

/** Lists the guests as text or JSON. */
export async function runList(
  paths: Paths,
  options: ListOptions,
  json: boolean,
  deps: ImageCommandDeps,
): Promise<number> {
  const cache =
    options.cache ??
    openListingCache(paths.cacheDir, 'xen-list-images', packageVersionOrUndefined(), deps.env);
  const guests = await listImages(paths, { ...options, cache });
  cache?.save();
  if (json) writeJson(deps.io, { ok: true, guests });
  else deps.io.stdout.write(renderListedGuests(guests));
  return 0;
}

/** `xenkit list-images` and `xen-list-images`. */
export const LIST_IMAGES: ImageCommand = {
  name: 'list-images',
  xenTools: 'xen-list-images',
  options: [
    opt('test', 'string', 'read the configs from DIR instead of /etc/xen', 'DIR'),
    opt('extension', 'optional', 'file extension of the configs (default .cfg)', 'EXT'),
    ...CLOSING_OPTIONS,
  ],
  args: [],
  summary: 'list the guests in /etc/xen with their disks',
  description:
    'List every /etc/xen/*.cfg as xen-list-images does (name, memory, IP or DHCP with the MAC, ' +
    'config file), plus each disk (size, space used, format, linked-clone parent), the running state ' +
    'and the linked clones of a base guest.',
  synopsis: 'Usage: xen-list-images [options]',
  about: 'List the guests made by xen-create-image: every /etc/xen/*.cfg.',
  run: async ({ values, names, paths, deps, prog }) => {
    if (names.length > 0)
      throw usageError('E_USAGE', `unexpected argument "${names[0]}"`, `${prog} takes no names; see --help`);
    const ext = values.get('extension');
    const test = values.get('test') as string | undefined;
    return runList(
      paths,
      { configDir: test, extension: typeof ext === 'string' ? ext : '.cfg', running: { xl: deps.xl } },
      values.get('json') === true,
      deps,
    );
  },
};

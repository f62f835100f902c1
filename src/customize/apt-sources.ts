/** apt sources for the guest: main, updates and security suites, one-line or deb822 per the table. */
import { usageError } from '../errors.js';
import type { Distribution } from '../config/distributions.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import type { CustomizeContext } from './types.js';

export const SOURCES_LIST = '/etc/apt/sources.list';
/** deb822 sources file of a family (`debian.sources`, `ubuntu.sources`, as each installer names it). */
export function deb822Path(dist: Distribution): string {
  return `/etc/apt/sources.list.d/${dist.family}.sources`;
}
export const APT_PROXY = '/etc/apt/apt.conf.d/01proxy';

interface SourceGroup {
  uri: string;
  suites: string[];
}

function sourceGroups(spec: GuestSpec, dist: Distribution): SourceGroup[] {
  const main = { uri: spec.install.mirror || dist.mirror, suites: [dist.release] };
  if (dist.updatesSuite) main.suites.push(dist.updatesSuite);
  const groups = [main];
  if (dist.security) {
    groups.push({ uri: spec.install.securityMirror ?? dist.security.mirror, suites: [dist.security.suite] });
  }
  return groups;
}

/** Renders the sources file for the guest: its guest path and content. */
export function renderAptSources(spec: GuestSpec, dist: Distribution): { path: string; content: string } {
  const groups = sourceGroups(spec, dist);
  const components = dist.components.join(' ');
  if (dist.sourcesFormat === 'deb822') {
    const stanzas = groups.map((g) =>
      [
        'Types: deb',
        `URIs: ${g.uri}`,
        `Suites: ${g.suites.join(' ')}`,
        `Components: ${components}`,
        `Signed-By: ${dist.keyring}`,
        // Archived releases carry expired Release files; apt must be told to accept them.
        ...(dist.isEol ? ['Check-Valid-Until: no'] : []),
      ].join('\n'),
    );
    return { path: deb822Path(dist), content: `${stanzas.join('\n\n')}\n` };
  }
  const options = dist.isEol ? '[check-valid-until=no] ' : '';
  const lines = groups.flatMap((g) =>
    g.suites.map((suite) => `deb ${options}${g.uri} ${suite} ${components}`),
  );
  return { path: SOURCES_LIST, content: `${lines.join('\n')}\n` };
}

/** Renders `01proxy` for an apt proxy URL, refusing anything that would break out of the quotes. */
export function renderAptProxy(proxy: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\/[^\s"\\;]+$/i.test(proxy)) {
    throw usageError('E_APT_PROXY', `apt proxy "${proxy}" is not a URL`, 'give it as http://HOST:PORT/');
  }
  return `Acquire::http::Proxy "${proxy}";\n`;
}

/** What the apt step writes. */
export function describeApt(spec: GuestSpec, dist: Distribution): PlanAction[] {
  const sources = renderAptSources(spec, dist);
  const other = sources.path === SOURCES_LIST ? deb822Path(dist) : SOURCES_LIST;
  const actions: PlanAction[] = [
    { kind: 'write', path: sources.path, mode: 0o644, content: sources.content },
  ];
  actions.push({ kind: 'remove', path: other });
  if (spec.install.aptProxy) {
    actions.push({
      kind: 'write',
      path: APT_PROXY,
      mode: 0o644,
      content: renderAptProxy(spec.install.aptProxy),
    });
  }
  return actions;
}

/** Writes the apt sources (removing the other format's file, so apt never sees a suite twice). */
export async function applyApt(c: CustomizeContext): Promise<void> {
  for (const action of describeApt(c.spec, c.dist)) {
    if (action.kind === 'write') c.editor.writeFile(action.path, action.content ?? '', { mode: action.mode });
    if (action.kind === 'remove') c.editor.remove(action.path);
  }
}

/** The guest's name: /etc/hostname (short), /etc/mailname (fully qualified) and /etc/hosts. */
import fs from 'node:fs';
import type { PlanAction } from '../plan/plan.js';
import type { IdentityContext, IdentitySpec } from './types.js';

const IPV6_LINES = [
  '::1\tlocalhost ip6-localhost ip6-loopback',
  'ff02::1\tip6-allnodes',
  'ff02::2\tip6-allrouters',
];

/** The fully qualified name, or the short one when the guest has no domain. */
export function fqdnOf(spec: IdentitySpec): string {
  return spec.domain ? `${spec.name}.${spec.domain}` : spec.name;
}

/** The line naming the guest itself: its static primary address, else 127.0.1.1 (Debian's habit). */
export function selfHostsLine(spec: IdentitySpec): string {
  const fqdn = fqdnOf(spec);
  const names = fqdn === spec.name ? spec.name : `${fqdn} ${spec.name}`;
  const primary = spec.network.mode === 'static' ? spec.network.addresses[0]?.address : undefined;
  return `${primary ?? '127.0.1.1'}\t${names}`;
}

/**
 * Renders /etc/hosts. With host entries (`--copyhosts`), the host's own lines are kept except
 * loopback, IPv6 boilerplate and any line for the guest's names, which this file writes itself.
 */
export function renderHosts(spec: IdentitySpec, hostHosts?: string): string {
  const lines = ['127.0.0.1\tlocalhost', selfHostsLine(spec)];
  if (hostHosts !== undefined) {
    const own = new Set([spec.name, fqdnOf(spec), 'localhost']);
    for (const raw of hostHosts.split('\n')) {
      const line = raw.trim();
      if (!line || line.startsWith('#')) continue;
      const [address = '', ...names] = line.split(/\s+/);
      if (address.startsWith('127.') || address.includes(':')) continue;
      if (names.some((n) => own.has(n))) continue;
      lines.push(raw);
    }
  }
  return `${[...lines, '', ...IPV6_LINES].join('\n')}\n`;
}

/** What the hostname step writes (host entries are read at run time with `--copyhosts`). */
export function describeHostname(spec: IdentitySpec): PlanAction[] {
  return [
    { kind: 'write', path: '/etc/hostname', mode: 0o644, content: `${spec.name}\n` },
    { kind: 'write', path: '/etc/mailname', mode: 0o644, content: `${fqdnOf(spec)}\n` },
    spec.copyHosts
      ? { kind: 'write', path: '/etc/hosts', mode: 0o644 }
      : { kind: 'write', path: '/etc/hosts', mode: 0o644, content: renderHosts(spec) },
  ];
}

/** Writes hostname, mailname and hosts. */
export async function applyHostname(c: IdentityContext): Promise<void> {
  const hostHosts = c.spec.copyHosts ? fs.readFileSync(c.host.hosts, 'utf8') : undefined;
  for (const action of describeHostname(c.spec)) {
    if (action.kind !== 'write') continue;
    const content = action.path === '/etc/hosts' ? renderHosts(c.spec, hostHosts) : (action.content ?? '');
    c.editor.writeFile(action.path, content, { mode: action.mode });
  }
}

/** The network step: the MAC-matched config, networkd enabled, and name resolution that works. */
import fs from 'node:fs';
import type { Distribution } from '../config/distributions.js';
import type { PlanAction } from '../plan/plan.js';
import {
  NETPLAN_FILE,
  NETWORKD_FILE,
  networkNotes,
  renderNetworkConfig,
  renderResolvConf,
} from './network.js';
import { enableUnits, hasUnit } from './systemd-units.js';
import type { IdentityContext, IdentitySpec } from './types.js';

const RESOLVED_STUB = '../run/systemd/resolve/stub-resolv.conf';

/** What the network step does; resolv.conf depends on whether the guest has systemd-resolved. */
export function describeNetwork(spec: IdentitySpec, dist: Distribution): PlanAction[] {
  const config = renderNetworkConfig(spec, dist);
  const actions: PlanAction[] = [...networkNotes(spec)];
  if (!config) return actions;
  actions.push({ kind: 'write', path: config.path, mode: config.mode, content: config.content });
  actions.push({ kind: 'run', argv: ['systemctl', '--root=<guest>', 'enable', 'systemd-networkd.service'] });
  actions.push({ kind: 'write', path: '/etc/resolv.conf', mode: 0o644 });
  actions.push({
    kind: 'note',
    text: "resolv.conf: systemd-resolved stub if the guest has resolved, else a static file (nameservers or the host's)",
  });
  return actions;
}

/** Writes the network config, enables networkd (and resolved when installed), sets resolv.conf. */
export async function applyNetwork(c: IdentityContext): Promise<void> {
  const config = renderNetworkConfig(c.spec, c.dist);
  // Our own file from an earlier run must not survive a switch of writer or to `none`.
  for (const own of [NETWORKD_FILE, NETPLAN_FILE]) if (own !== config?.path) c.editor.remove(own);
  for (const note of networkNotes(c.spec)) {
    if (note.kind === 'note') c.step.sink({ type: 'info', message: note.text });
  }
  if (!config) return;
  c.editor.writeFile(config.path, config.content, { mode: config.mode, uid: 0, gid: 0 });

  const hasResolved = hasUnit(c.editor, 'systemd-resolved.service');
  const units = ['systemd-networkd.service', ...(hasResolved ? ['systemd-resolved.service'] : [])];
  const missing = await enableUnits(c, units);
  if (missing.length > 0) {
    c.step.sink({
      type: 'warn',
      message: `guest "${c.spec.name}": ${missing.join(', ')} not installed; the network config will not be applied`,
    });
  }
  if (hasResolved) {
    c.editor.symlink('/etc/resolv.conf', RESOLVED_STUB);
  } else {
    const hostResolv = fs.existsSync(c.host.resolvConf)
      ? fs.readFileSync(c.host.resolvConf, 'utf8')
      : undefined;
    c.editor.writeFile('/etc/resolv.conf', renderResolvConf(c.spec, hostResolv), { mode: 0o644 });
  }
}

/** The summary printed when a guest was created: files, MAC, addresses, host keys, password. */
import type { GuestSpec } from '../model/guest-spec.js';
import { formatSize } from '../model/size.js';
import type { CreateImageOutcome } from '../images/create-image-plan.js';
import { swapPaths, volumePaths } from '../images/create-image-storage.js';

export interface CreateSummary {
  name: string;
  hostname: string;
  dist: string;
  files: { disk?: string; swap?: string; cfg: string; log: string };
  disk: { size: string; fs: string; uuid: string; format: string };
  swap?: { size: string; uuid: string };
  /** `--partitions`: the layout's other filesystems. */
  volumes?: { mountpoint: string; path: string; size: string; fs: string; uuid: string }[];
  mac: string;
  network: { mode: string; addresses: string[]; gateway?: string; nameservers: string[] };
  sshHostKeys: { type: string; bits: number; fingerprint: string }[];
  /** Only when generated: shown once, never logged. */
  rootPassword?: string | undefined;
  packages?: number;
  durationMs: number;
  next: string;
  /** Hooks and roles: commands that failed in the guest without failing the build. */
  warnings: string[];
  /** `--boot`: the domain started after the build. */
  started?: { id: number };
}

/** Collects what the run made into one object (text and JSON render the same data). */
export function buildSummary(
  spec: GuestSpec,
  outcome: CreateImageOutcome,
  generatedPassword: string | undefined,
  durationMs: number,
  started?: { id: number },
): CreateSummary {
  const addresses =
    outcome.address && spec.network.autoIp
      ? [outcome.address]
      : spec.network.addresses.map((a) => `${a.address}/${a.prefix}`);
  return {
    name: spec.name,
    hostname: spec.hostname,
    dist: spec.install.dist,
    files: {
      ...(outcome.diskPath ? { disk: outcome.diskPath } : {}),
      ...(outcome.swapPath ? { swap: outcome.swapPath } : {}),
      cfg: outcome.cfgPath,
      log: spec.output.logPath,
    },
    disk: {
      size: formatSize(spec.disk.size),
      fs: spec.disk.fs,
      uuid: outcome.ids.rootUuid,
      format:
        spec.storage.kind === 'file'
          ? `${spec.storage.format}, ${spec.storage.allocation}`
          : spec.storage.kind,
    },
    ...(spec.swap && outcome.ids.swapUuid
      ? { swap: { size: formatSize(spec.swap.size), uuid: outcome.ids.swapUuid } }
      : {}),
    ...(spec.volumes?.length || spec.extraSwaps?.length
      ? {
          volumes: [
            ...volumePaths(spec).map(({ volume, path }) => ({
              mountpoint: volume.mountpoint,
              path,
              size: formatSize(volume.size),
              fs: volume.fs,
              uuid: outcome.ids.volumeUuids?.[volume.name] ?? '',
            })),
            // A layout's further swap volumes: no mount point, "swap" in fstab's sense.
            ...swapPaths(spec)
              .slice(1)
              .map(({ swap, path }) => ({
                mountpoint: 'swap',
                path,
                size: formatSize(swap.size),
                fs: 'swap',
                uuid: outcome.ids.volumeUuids?.[swap.name] ?? '',
              })),
          ],
        }
      : {}),
    mac: spec.network.mac,
    network: {
      mode: spec.network.mode,
      addresses,
      ...(spec.network.gateway ? { gateway: spec.network.gateway } : {}),
      nameservers: spec.network.nameservers,
    },
    sshHostKeys: outcome.sshHostKeys,
    ...(generatedPassword ? { rootPassword: generatedPassword } : {}),
    ...(outcome.install ? { packages: outcome.install.packagesInstalled } : {}),
    durationMs,
    next: `xm create -c ${outcome.cfgPath}`,
    warnings: outcome.warnings,
    ...(started ? { started } : {}),
  };
}

/** The summary as text for a terminal. */
export function renderSummary(s: CreateSummary): string {
  const lines = [`Guest ${s.hostname} (${s.dist}) created in ${(s.durationMs / 1000).toFixed(1)} s`, ''];
  const row = (label: string, value: string): void => void lines.push(`  ${label.padEnd(14)}${value}`);
  if (s.files.disk)
    row('disk', `${s.files.disk}  (${s.disk.size} ${s.disk.fs}, ${s.disk.format}, UUID ${s.disk.uuid})`);
  for (const v of s.volumes ?? []) row(v.mountpoint, `${v.path}  (${v.size} ${v.fs}, UUID ${v.uuid})`);
  if (s.files.swap && s.swap) row('swap', `${s.files.swap}  (${s.swap.size}, UUID ${s.swap.uuid})`);
  row('config', s.files.cfg);
  row('log', s.files.log);
  row('MAC', s.mac);
  row(
    'network',
    s.network.mode === 'dhcp'
      ? 'DHCP'
      : [...s.network.addresses, s.network.gateway ? `via ${s.network.gateway}` : '']
          .filter(Boolean)
          .join(' '),
  );
  if (s.packages !== undefined) row('packages', String(s.packages));
  if (s.sshHostKeys.length > 0) {
    lines.push('  SSH host keys:');
    for (const key of s.sshHostKeys)
      lines.push(
        `    ${key.type.toUpperCase().padEnd(8)} ${key.bits.toString().padStart(4)}  ${key.fingerprint}`,
      );
  }
  if (s.rootPassword) row('root password', `${s.rootPassword}   (generated; shown only now)`);
  if (s.warnings.length > 0) {
    lines.push(
      '',
      `  ${s.warnings.length} warning(s) from hooks and roles (built anyway, as xen-tools would):`,
    );
    for (const warning of s.warnings) lines.push(`    ${warning}`);
  }
  lines.push(
    '',
    s.started
      ? `Started as domain ${s.started.id}; its console: xm console ${s.hostname}`
      : `Start it with: ${s.next}`,
  );
  return lines.join('\n') + '\n';
}

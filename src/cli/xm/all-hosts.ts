/**
 * `xm list --all-hosts`: the guests of every host of `xenkit hosts`, each asked through the
 * libvirt driver on its URI at the same time. A host that does not answer gets one row saying so;
 * the others still list.
 */
import { readHosts, type HostEntry } from '../../config/hosts-file.js';
import type { DomainInfo, HostInfo } from '../../hypervisors/driver.js';
import { createDefaultDriver } from './default-deps.js';
import { domainRow, hostRow, renderListRow, LIST_HEADER, type ListRow } from '../render-list.js';
import type { Session } from './session.js';

/** One host's answer: its Domain-0 and guests, or why it did not answer. */
export type HostListing =
  | { host: HostEntry; ok: true; info: HostInfo; running: DomainInfo[] }
  | { host: HostEntry; ok: false; error: string };

/** Lists every configured host, in the hosts file's order. */
export async function collectAllHosts(session: Session): Promise<HostListing[]> {
  const hosts = await readHosts(session.paths.hostsFile);
  const create = session.deps.createDriver ?? createDefaultDriver;
  return Promise.all(
    hosts.map(async (host): Promise<HostListing> => {
      try {
        const driver = await create('libvirt', session.paths, undefined, host.uri);
        const [info, running] = await Promise.all([driver.hostInfo(), driver.list()]);
        return { host, ok: true, info, running: running.sort((a, b) => a.id - b.id) };
      } catch (error) {
        return { host, ok: false, error: error instanceof Error ? error.message : String(error) };
      }
    }),
  );
}

/** The table: xm list's columns after a Host column; a silent host is one row with its error. */
export function renderAllHosts(listings: readonly HostListing[]): string {
  const width = Math.max(4, ...listings.map((l) => l.host.name.length));
  const line = (host: string, row: ListRow): string => `${host.padEnd(width)}  ${renderListRow(row)}`;
  const lines = [`${'Host'.padEnd(width)}  ${LIST_HEADER}`];
  for (const listing of listings) {
    if (!listing.ok) {
      lines.push(`${listing.host.name.padEnd(width)}  (not answering: ${listing.error})`);
      continue;
    }
    lines.push(line(listing.host.name, hostRow(listing.info)));
    for (const domain of listing.running) lines.push(line(listing.host.name, domainRow(domain)));
  }
  return lines.map((l) => `${l}\n`).join('');
}

/** The JSON form: per host, its URI and guests, or its error. */
export function allHostsJson(listings: readonly HostListing[]): Record<string, unknown>[] {
  return listings.map((l) =>
    l.ok
      ? {
          host: l.host.name,
          uri: l.host.uri,
          ok: true,
          domains: l.running.map((d) => ({ ...domainRow(d), details: d.details })),
        }
      : { host: l.host.name, uri: l.host.uri, ok: false, error: l.error },
  );
}

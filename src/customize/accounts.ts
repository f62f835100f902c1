/**
 * Accounts: the host's regular users (`--accounts`), admin users with sudo (`--admins`) and root's
 * SSH authorized_keys. Works on the files directly: no chroot, no adduser in the guest.
 */
import fs from 'node:fs';
import { usageError } from '../errors.js';
import type { GuestSpec } from '../model/guest-spec.js';
import type { PlanAction } from '../plan/plan.js';
import {
  addGroup,
  addMember,
  groupNameOf,
  hasUid,
  nextFreeId,
  readAccountDb,
  writeAccountDb,
  type AccountDb,
} from './account-db.js';
import { findRow, makeRow, parseColonFile, type ColonRow } from './colon-files.js';
import type { CustomizeContext } from './types.js';

/** Debian's regular users: 1000..59999 (65534 is nobody). */
const FIRST_UID = 1000;
const LAST_UID = 59999;
const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

interface HostAccounts {
  passwd: ColonRow[];
  shadow: ColonRow[];
  group: ColonRow[];
}

/** What the accounts step writes. */
export function describeAccounts(spec: GuestSpec): PlanAction[] {
  const actions: PlanAction[] = [];
  if (spec.accounts.copyAccounts)
    actions.push({ kind: 'note', text: "copy the host's users (uid 1000-59999)" });
  for (const admin of spec.accounts.admins)
    actions.push({ kind: 'note', text: `create admin ${admin} (sudo)` });
  if (spec.accounts.copyAccounts || spec.accounts.admins.length > 0) {
    for (const file of ['/etc/passwd', '/etc/shadow', '/etc/group', '/etc/gshadow'])
      actions.push({ kind: 'write', path: file });
  }
  if (spec.accounts.sshAuthorizedKeys.length > 0) {
    actions.push({ kind: 'mkdir', path: '/root/.ssh', mode: 0o700 });
    actions.push({
      kind: 'write',
      path: '/root/.ssh/authorized_keys',
      mode: 0o600,
      content: renderAuthorizedKeys(spec.accounts.sshAuthorizedKeys),
    });
  }
  return actions;
}

/** authorized_keys text; a key with a line break would smuggle in a second key, so it is refused. */
export function renderAuthorizedKeys(keys: string[]): string {
  for (const key of keys) {
    if (/[\r\n]/.test(key.trim())) {
      throw usageError(
        'E_SSH_KEY',
        `SSH key "${key.slice(0, 30)}..." spans several lines`,
        'give one key per entry',
      );
    }
  }
  return `${keys.map((k) => k.trim()).join('\n')}\n`;
}

/** Copies host users, creates admins, installs root's authorized_keys. */
export async function applyAccounts(c: CustomizeContext): Promise<void> {
  const { accounts } = c.spec;
  if (accounts.copyAccounts || accounts.admins.length > 0) {
    const db = readAccountDb(c.editor);
    const host = readHostAccounts(c);
    if (accounts.copyAccounts) {
      for (const row of host.passwd) {
        const uid = Number(row.fields[2]);
        if (uid >= FIRST_UID && uid <= LAST_UID) copyHostUser(c, db, host, row);
      }
    }
    for (const admin of accounts.admins) addAdmin(c, db, host, admin);
    writeAccountDb(c.editor, db);
  }
  if (accounts.sshAuthorizedKeys.length > 0) {
    const content = renderAuthorizedKeys(accounts.sshAuthorizedKeys);
    c.editor.mkdir('/root/.ssh', { mode: 0o700, uid: 0, gid: 0 });
    c.editor.writeFile('/root/.ssh/authorized_keys', content, { mode: 0o600, uid: 0, gid: 0 });
  }
}

function readHostAccounts(c: CustomizeContext): HostAccounts {
  const read = (file: string): ColonRow[] =>
    fs.existsSync(file) ? parseColonFile(fs.readFileSync(file, 'utf8')) : [];
  return { passwd: read(c.host.passwd), shadow: read(c.host.shadow), group: read(c.host.group) };
}

/** Copies one host user with its hash, primary group and the memberships the guest can honour. */
function copyHostUser(c: CustomizeContext, db: AccountDb, host: HostAccounts, row: ColonRow): boolean {
  const [name = '', , uidText = '', gidText = ''] = row.fields;
  if (findRow(db.passwd, name)) return false;
  const uid = Number(uidText);
  if (hasUid(db, uid)) {
    warn(c, `host user ${name} not copied: uid ${uid} is taken in the guest`);
    return false;
  }
  const hostGroup = host.group.find((g) => g.fields[2] === gidText)?.fields[0];
  const gid = ensurePrimaryGroup(db, hostGroup ?? name, Number(gidText));
  const fields = [...row.fields];
  fields[3] = String(gid);
  db.passwd.push(makeRow(fields));
  const shadow = findRow(host.shadow, name);
  db.shadow.push(shadow ? makeRow([...shadow.fields]) : lockedShadow(name));
  for (const group of host.group) {
    const members = (group.fields[3] ?? '').split(',');
    if (group.fields[0] && members.includes(name)) addMember(db, group.fields[0], name);
  }
  makeHome(c, fields[5] ?? `/home/${name}`, uid, gid);
  return true;
}

/** The gid for a user's primary group: the guest's group of that name, else a new one. */
function ensurePrimaryGroup(db: AccountDb, name: string, wantedGid: number): number {
  const existing = findRow(db.group, name);
  if (existing) return Number(existing.fields[2]);
  const gid = groupNameOf(db, wantedGid) === undefined ? wantedGid : nextFreeId(db);
  addGroup(db, name, gid);
  return gid;
}

function addAdmin(c: CustomizeContext, db: AccountDb, host: HostAccounts, name: string): void {
  if (!USER_NAME.test(name)) {
    throw usageError(
      'E_ADMIN',
      `admin name "${name}" is not a valid user name`,
      'use lower-case letters, digits, - and _',
    );
  }
  if (!findRow(db.passwd, name)) {
    const hostRow = findRow(host.passwd, name);
    if (!hostRow || !copyHostUser(c, db, host, hostRow)) createUser(c, db, name);
  }
  if (c.editor.exists('/usr/bin/sudo')) addMember(db, 'sudo', name);
  else warn(c, `admin ${name} created without sudo rights: sudo is not installed in the guest`);
  const keys = c.spec.accounts.sshAuthorizedKeys;
  const row = findRow(db.passwd, name);
  if (keys.length > 0 && row) {
    // Admins created here have a locked password: root's keys are how they log in.
    const [home = `/home/${name}`, uid = 0, gid = 0] = [
      row.fields[5],
      Number(row.fields[2]),
      Number(row.fields[3]),
    ];
    c.editor.mkdir(`${home}/.ssh`, { mode: 0o700, uid, gid });
    c.editor.writeFile(`${home}/.ssh/authorized_keys`, renderAuthorizedKeys(keys), { mode: 0o600, uid, gid });
  }
}

function createUser(c: CustomizeContext, db: AccountDb, name: string): void {
  const id = nextFreeId(db);
  const gid = ensurePrimaryGroup(db, name, id);
  const shell = c.editor.exists('/bin/bash') ? '/bin/bash' : '/bin/sh';
  db.passwd.push(makeRow([name, 'x', String(id), String(gid), `${name},,,`, `/home/${name}`, shell]));
  db.shadow.push(lockedShadow(name));
  makeHome(c, `/home/${name}`, id, gid);
}

function lockedShadow(name: string): ColonRow {
  return makeRow([name, '!', String(Math.floor(Date.now() / 86_400_000)), '0', '99999', '7', '', '', '']);
}

/** A home from the guest's /etc/skel, mode 0700 like bookworm's adduser. */
function makeHome(c: CustomizeContext, home: string, uid: number, gid: number): void {
  if (c.editor.isPresent(home)) return;
  c.editor.mkdir(home, { mode: 0o700, uid, gid });
  for (const name of c.editor.list('/etc/skel')) {
    const content = c.editor.read(`/etc/skel/${name}`);
    if (content !== undefined) c.editor.writeFile(`${home}/${name}`, content, { mode: 0o644, uid, gid });
  }
}

function warn(c: CustomizeContext, message: string): void {
  c.step.sink({ type: 'warn', message: `guest "${c.spec.name}": ${message}` });
  c.step.reporter.warn(message);
}

/** The guest's account files loaded together, changed in memory and written back with their modes. */
import { findRow, makeRow, parseColonFile, renderColonFile, type ColonRow } from './colon-files.js';
import type { TreeEditor } from './tree-editor.js';

export interface AccountDb {
  passwd: ColonRow[];
  shadow: ColonRow[];
  group: ColonRow[];
  /** undefined when the guest has no /etc/gshadow. */
  gshadow: ColonRow[] | undefined;
}

/** Reads passwd, shadow, group and gshadow from the guest. */
export function readAccountDb(editor: TreeEditor): AccountDb {
  const gshadow = editor.read('/etc/gshadow');
  return {
    passwd: parseColonFile(editor.read('/etc/passwd') ?? ''),
    shadow: parseColonFile(editor.read('/etc/shadow') ?? ''),
    group: parseColonFile(editor.read('/etc/group') ?? ''),
    gshadow: gshadow === undefined ? undefined : parseColonFile(gshadow),
  };
}

/** Writes the account files back: passwd/group 0644, shadow/gshadow 0640 root:shadow. */
export function writeAccountDb(editor: TreeEditor, db: AccountDb): void {
  const shadowGid = Number(findRow(db.group, 'shadow')?.fields[2] ?? 0);
  editor.writeFile('/etc/passwd', renderColonFile(db.passwd), { mode: 0o644, uid: 0, gid: 0 });
  editor.writeFile('/etc/group', renderColonFile(db.group), { mode: 0o644, uid: 0, gid: 0 });
  editor.writeFile('/etc/shadow', renderColonFile(db.shadow), { mode: 0o640, uid: 0, gid: shadowGid });
  if (db.gshadow) {
    editor.writeFile('/etc/gshadow', renderColonFile(db.gshadow), { mode: 0o640, uid: 0, gid: shadowGid });
  }
}

/** Whether a uid is taken. */
export function hasUid(db: AccountDb, uid: number): boolean {
  return db.passwd.some((r) => r.fields.length > 2 && Number(r.fields[2]) === uid);
}

/** The name of the group with a gid, if any. */
export function groupNameOf(db: AccountDb, gid: number): string | undefined {
  return db.group.find((r) => r.fields.length > 2 && Number(r.fields[2]) === gid)?.fields[0];
}

/** The lowest free uid from 1000 on (Debian's first regular uid) that is also free as a gid. */
export function nextFreeId(db: AccountDb): number {
  for (let id = 1000; id < 60000; id++) {
    if (!hasUid(db, id) && groupNameOf(db, id) === undefined) return id;
  }
  throw new Error('no free uid in 1000..59999');
}

/** Adds a group (and its gshadow line). */
export function addGroup(db: AccountDb, name: string, gid: number): void {
  db.group.push(makeRow([name, 'x', String(gid), '']));
  db.gshadow?.push(makeRow([name, '!', '', '']));
}

/** Adds a user to a group's member list (group and gshadow); false when the group is missing. */
export function addMember(db: AccountDb, groupName: string, user: string): boolean {
  const group = findRow(db.group, groupName);
  if (!group) return false;
  addToList(group, 3, user);
  const gshadow = db.gshadow ? findRow(db.gshadow, groupName) : undefined;
  if (gshadow) addToList(gshadow, 3, user);
  return true;
}

function addToList(row: ColonRow, index: number, user: string): void {
  while (row.fields.length <= index) row.fields.push('');
  const members = (row.fields[index] ?? '').split(',').filter(Boolean);
  if (!members.includes(user)) members.push(user);
  row.fields[index] = members.join(',');
}

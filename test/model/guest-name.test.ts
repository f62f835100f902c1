import { describe, expect, it } from 'vitest';
import { assertGuestName, GUEST_NAME_MAX, guestNameProblem } from '../../src/model/guest-name.js';
import { XenkitError } from '../../src/errors.js';

describe('guest names', () => {
  it.each(['web1', 'web1.example.org', 'test_2', 'A-b.c', 'x'.repeat(GUEST_NAME_MAX)])(
    'accepts %s',
    (name) => {
      expect(guestNameProblem(name)).toBeUndefined();
    },
  );

  it.each([
    ['', 'is empty'],
    ['..', 'not a name'],
    ['.', 'not a name'],
    ['../../../etc', "contains '/'"],
    ['a/b', "contains '/'"],
    ['.hidden', 'must not start'],
    ['-rf', 'must not start'],
    ['a,b', 'may hold only'],
    ['a b', 'may hold only'],
    ['a\nb', 'may hold only'],
    ['x'.repeat(GUEST_NAME_MAX + 1), 'longer than'],
  ])('refuses %j (%s)', (name, why) => {
    expect(guestNameProblem(name)).toContain(why);
  });

  it('throws a usage error naming where the name came from', () => {
    const error = (() => {
      try {
        assertGuestName('../x', '/etc/xen/x.cfg');
      } catch (e) {
        return e;
      }
    })() as XenkitError;
    expect(error).toBeInstanceOf(XenkitError);
    expect(error.kind).toBe('usage');
    expect(error.code).toBe('E_GUEST_NAME');
    expect(error.message).toContain('/etc/xen/x.cfg');
  });
});

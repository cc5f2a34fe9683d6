import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { sha512crypt } from '../../src/render/filters.js';

/** glibc's crypt(3), reached through perl: the implementation anaconda's hashes are checked with. */
function glibcCrypt(password: string, setting: string): string {
  return execFileSync('perl', ['-e', 'print crypt($ARGV[0], $ARGV[1])', password, setting], { encoding: 'utf8' });
}

const cases: [string, string][] = [
  ['password', 'salt'],
  ['correct horse battery staple', 'saltsaltsaltsalt'],
  ['pässwörd with ünïcode', 'a./Z09'],
  ['x', 'abcdefgh'],
];

for (const [password, salt] of cases) {
  test(`sha512crypt matches glibc crypt(3) for salt '${salt}'`, () => {
    const expected = glibcCrypt(password, `$6$rounds=5000$${salt}$`);
    assert.match(expected, /^\$6\$rounds=5000\$/);
    assert.equal(sha512crypt(password, salt), expected);
  });
}

test('the reference example hash starts with the setting', () => {
  assert.ok(sha512crypt('password', 'salt').startsWith('$6$rounds=5000$salt$'));
});

test('sha512crypt refuses an empty password and a salt crypt(3) would mangle', () => {
  assert.throws(() => sha512crypt('', 'salt'), /password is empty/);
  assert.throws(() => sha512crypt('pw', 'bad$salt'), /salt must be/);
  assert.throws(() => sha512crypt('pw', undefined), /salt must be/);
});

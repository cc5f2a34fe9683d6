// The table's invariants, the format checks on made-up bytes, and the atomic copy on real files.
import assert from 'node:assert/strict';
import { lstat, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { missingPackages } from '../../src/pxe/apt.js';
import { syncFile } from '../../src/pxe/copy.js';
import { checkFormat, peMachine } from '../../src/pxe/format.js';
import { BOOT_LOADERS, aptInstallCommand, loaderPackages } from '../../src/pxe/loaders.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kickstand-pxe-unit-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the table names every file the DHCP policy hands out, once', () => {
  const names = BOOT_LOADERS.map((file) => file.name);
  assert.equal(new Set(names).size, names.length);
  for (const name of ['undionly.kpxe', 'ipxe.efi', 'snp.efi', 'pxelinux.0', 'grubx64.efi', 'ldlinux.c32']) assert.ok(names.includes(name), name);
  for (const file of BOOT_LOADERS) {
    assert.equal(file.package === null, file.source === null, `${file.name}: package and source go together`);
    if (file.package === null) assert.equal(file.required, false, `${file.name}: an unpackaged file cannot be required`);
    if (file.source !== null) assert.ok(file.source.startsWith('/'), `${file.name}: absolute source`);
  }
});

test('loaderPackages lists each package once, and the apt command uses them', () => {
  assert.deepEqual(loaderPackages(), ['ipxe', 'pxelinux', 'syslinux-common', 'grub-efi-amd64-bin']);
  assert.equal(aptInstallCommand(['ipxe', 'pxelinux']), 'apt-get install -y --no-install-recommends ipxe pxelinux');
});

function peImage(machine: number): Buffer {
  const bytes = Buffer.alloc(0x100);
  bytes.write('MZ', 0, 'latin1');
  bytes.writeUInt32LE(0x80, 0x3c);
  bytes.write('PE\0\0', 0x80, 'latin1');
  bytes.writeUInt16LE(machine, 0x84);
  return bytes;
}

function elf(elfClass: number, machine: number): Buffer {
  const bytes = Buffer.alloc(64);
  bytes.write('\x7fELF', 0, 'latin1');
  bytes[4] = elfClass;
  bytes.writeUInt16LE(machine, 18);
  return bytes;
}

test('checkFormat table', () => {
  const cases: Array<[string, Buffer, Parameters<typeof checkFormat>[1], RegExp | null]> = [
    ['x64 PE as efi-x64', peImage(0x8664), 'efi-x64', null],
    ['arm64 PE as efi-arm64', peImage(0xaa64), 'efi-arm64', null],
    ['arm64 PE as efi-x64', peImage(0xaa64), 'efi-x64', /0xaa64, expected 0x8664/],
    ['HTML as efi-x64', Buffer.from('<html>404</html>'.padEnd(100)), 'efi-x64', /no MZ/],
    ['MZ without PE', Buffer.concat([Buffer.from('MZ'), Buffer.alloc(0x100)]), 'efi-x64', /no PE header/],
    ['PE offset past the end', (() => { const b = peImage(0x8664); b.writeUInt32LE(0xffff, 0x3c); return b; })(), 'efi-x64', /no PE header/],
    ['empty', Buffer.alloc(0), 'bios-nbp', /empty/],
    ['raw NBP', Buffer.from([0xea, 0x05, 0x00, 0xc0]), 'bios-nbp', null],
    ['i386 ELF module', elf(1, 3), 'syslinux-module', null],
    ['x86-64 ELF module', elf(2, 62), 'syslinux-module', /32-bit i386/],
    ['not ELF', Buffer.alloc(64, 1), 'syslinux-module', /not an ELF/],
  ];
  for (const [name, bytes, format, expected] of cases) {
    const problem = checkFormat(bytes, format);
    if (expected === null) assert.equal(problem, null, name);
    else assert.match(problem ?? '', expected, name);
  }
  assert.equal(peMachine(peImage(0x8664)), 0x8664);
});

test('syncFile copies, then leaves identical content alone, and replaces a symlink with a file', async () => {
  const source = join(dir, 'source.bin');
  const dest = join(dir, 'pxe-file');
  await writeFile(source, 'boot loader v1');
  assert.equal(await syncFile(source, dest), 'copied');
  assert.equal(await syncFile(source, dest), 'unchanged');
  await writeFile(source, 'boot loader v2');
  assert.equal(await syncFile(source, dest), 'copied');
  assert.equal(await readFile(dest, 'utf8'), 'boot loader v2');

  await rm(dest);
  await symlink(source, dest);
  assert.equal(await syncFile(source, dest), 'copied');
  assert.ok((await lstat(dest)).isFile());
  assert.equal((await lstat(dest)).mode & 0o777, 0o644);
  assert.deepEqual((await readdir(dir)).sort(), ['pxe-file', 'source.bin']);
});

test('syncFile follows a symlinked source (Debian ships ipxe.efi as a link to /boot/ipxe.efi)', async () => {
  const real = join(dir, 'real.efi');
  const link = join(dir, 'link.efi');
  const dest = join(dir, 'copy.efi');
  await writeFile(real, 'efi bytes');
  await symlink(real, link);
  assert.equal(await syncFile(link, dest), 'copied');
  assert.ok((await lstat(dest)).isFile());
  assert.equal(await readFile(dest, 'utf8'), 'efi bytes');
});

test('a failed copy leaves no temporary file', async () => {
  const sub = await mkdtemp(join(dir, 'fail-'));
  await assert.rejects(syncFile(join(sub, 'no-such-source'), join(sub, 'dest')));
  assert.deepEqual(await readdir(sub), []);
});

test('dpkg-query reports a package that does not exist as missing', async () => {
  assert.deepEqual(await missingPackages(['kickstand-no-such-package']), ['kickstand-no-such-package']);
});

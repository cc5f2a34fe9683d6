// Real install: apt installs Debian's ipxe, pxelinux, syslinux-common and grub-efi-amd64-bin
// (when missing, as root), and the files land in a temporary pxe/. Nothing is mocked.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { missingPackages } from '../../src/pxe/apt.js';
import { checkBootLoaders } from '../../src/pxe/check.js';
import { formatInstallReport, installBootLoaders, type InstallReport } from '../../src/pxe/install.js';
import { BOOT_LOADERS, loaderPackages, type BootLoaderFile } from '../../src/pxe/loaders.js';

const run = promisify(execFile);
const required = BOOT_LOADERS.filter((file) => file.required);
const packaged = BOOT_LOADERS.filter((file) => file.package !== null);
const sorted = (names: readonly string[]) => [...names].sort();
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
/** `kickstand pxe-install`, as `npm run pxe:install` runs it (the built CLI). */
const runCli = (pxeDir: string) => run(process.execPath, [join(repoRoot, 'dist/cli.js'), 'pxe-install', '--pxe-dir', pxeDir, '--no-apt'], { cwd: repoRoot });

// Only root can install packages; a developer who is not root and lacks them is told what to run.
const missingAtStart = await missingPackages(loaderPackages());
const skip = process.getuid?.() !== 0 && missingAtStart.length > 0 ? `not root and missing Debian packages: ${missingAtStart.join(' ')}` : false;

/** The PE machine field read straight from the bytes, independently of src/pxe/format.ts. */
function peMachineOf(bytes: Buffer): number {
  assert.equal(bytes.toString('latin1', 0, 2), 'MZ', 'starts with MZ');
  const pe = bytes.readUInt32LE(0x3c);
  assert.equal(bytes.toString('latin1', pe, pe + 4), 'PE\0\0', 'has a PE header');
  return bytes.readUInt16LE(pe + 4);
}

async function assertRegularCopy(pxeDir: string, file: BootLoaderFile): Promise<Buffer> {
  const dest = join(pxeDir, file.name);
  assert.ok((await lstat(dest)).isFile(), `${file.name} is a regular file, not a symlink`);
  const bytes = await readFile(dest);
  assert.ok(bytes.equals(await readFile(file.source ?? '')), `${file.name} is byte-identical to ${file.source}`);
  return bytes;
}

describe('installBootLoaders with real Debian packages', { skip }, () => {
  let root: string;
  let pxeDir: string;
  let first: InstallReport;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kickstand-pxe-'));
    pxeDir = join(root, 'pxe');
    first = await installBootLoaders({ pxeDir });
  }, { timeout: 15 * 60_000 });

  after(async () => {
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  test('first run installs the packages and copies every packaged file', async () => {
    assert.equal(first.ok, true, JSON.stringify(first, null, 2));
    assert.deepEqual(first.packagesMissing, []);
    assert.equal(first.aptCommand, null);
    assert.deepEqual(sorted(first.packagesInstalled), sorted(missingAtStart));
    assert.deepEqual(sorted(first.copied), sorted(packaged.map((file) => file.name)));
    assert.deepEqual(first.missingRequired, []);
    assert.deepEqual(first.errors, []);
    assert.deepEqual(first.missingOptional, ['snp.efi']);
    assert.match(first.files.find((file) => file.name === 'snp.efi')?.reason ?? '', /no Debian package/);
  });

  test('every required file is a regular, byte-identical copy of the Debian file', async () => {
    for (const file of required) {
      const bytes = await assertRegularCopy(pxeDir, file);
      assert.ok(bytes.length > 0, `${file.name} is not empty`);
    }
  });

  test('the files have the magic their clients expect', async () => {
    for (const name of ['ipxe.efi', 'snponly.efi', 'grubx64.efi']) {
      assert.equal(peMachineOf(await readFile(join(pxeDir, name))), 0x8664, `${name} is an x86-64 PE image`);
    }
    for (const name of ['ldlinux.c32', 'libutil.c32', 'menu.c32']) {
      assert.equal((await readFile(join(pxeDir, name))).toString('latin1', 0, 4), '\x7fELF', `${name} is an ELF module`);
    }
    assert.ok((await readFile(join(pxeDir, 'pxelinux.0'))).length > 1024);
    assert.ok((await readFile(join(pxeDir, 'undionly.kpxe'))).length > 1024);
  });

  test('pxelinux.cfg/ and grub/ exist, and no temporary file is left behind', async () => {
    assert.ok((await lstat(join(pxeDir, 'pxelinux.cfg'))).isDirectory());
    assert.ok((await lstat(join(pxeDir, 'grub'))).isDirectory());
    const entries = await readdir(pxeDir);
    assert.deepEqual(entries.filter((name) => name.startsWith('.')), []);
    assert.deepEqual(sorted(entries), sorted([...packaged.map((file) => file.name), 'pxelinux.cfg', 'grub']));
  });

  test('checkBootLoaders finds every packaged file ok and snp.efi missing', async () => {
    const checks = await checkBootLoaders(pxeDir);
    for (const check of checks) assert.equal(check.state, check.name === 'snp.efi' ? 'missing' : 'ok', check.name);
  });

  test('a second run reports everything unchanged', async () => {
    const second = await installBootLoaders({ pxeDir, aptInstall: false });
    assert.equal(second.ok, true);
    assert.deepEqual(second.copied, []);
    assert.deepEqual(second.packagesInstalled, []);
    assert.deepEqual(sorted(second.unchanged), sorted(packaged.map((file) => file.name)));
  });

  test('a modified file and a symlink are replaced by regular copies; the rest is unchanged', async () => {
    const ipxe = BOOT_LOADERS.find((file) => file.name === 'ipxe.efi')!;
    const undionly = BOOT_LOADERS.find((file) => file.name === 'undionly.kpxe')!;
    await writeFile(join(pxeDir, ipxe.name), 'not a boot loader');
    await rm(join(pxeDir, undionly.name));
    await symlink(undionly.source!, join(pxeDir, undionly.name));

    const third = await installBootLoaders({ pxeDir, aptInstall: false });
    assert.equal(third.ok, true);
    assert.deepEqual(sorted(third.copied), ['ipxe.efi', 'undionly.kpxe']);
    assert.equal(third.unchanged.length, packaged.length - 2);
    await assertRegularCopy(pxeDir, ipxe);
    await assertRegularCopy(pxeDir, undionly);
  });

  test('a folder in the way of a loader is an error, and the report is not ok', async () => {
    const dir = join(root, 'blocked');
    await mkdir(join(dir, 'pxelinux.0'), { recursive: true });
    const report = await installBootLoaders({ pxeDir: dir, aptInstall: false });
    assert.equal(report.ok, false);
    assert.deepEqual(report.errors, ['pxelinux.0']);
    assert.ok(report.copied.includes('ipxe.efi'));
  });

  test('a missing package is reported with the apt-get command, without apt when aptInstall is false', async () => {
    const ghost: BootLoaderFile = {
      name: 'ghost.efi',
      package: 'kickstand-no-such-package',
      source: '/nonexistent/ghost.efi',
      required: true,
      client: 'uefi-x64',
      format: 'efi-x64',
      description: 'a package that does not exist',
    };
    const dir = join(root, 'ghost');
    const report = await installBootLoaders({ pxeDir: dir, aptInstall: false, files: [ghost, ...required] });
    assert.equal(report.ok, false);
    assert.deepEqual(report.missingRequired, ['ghost.efi']);
    assert.deepEqual(report.packagesMissing, ['kickstand-no-such-package']);
    assert.equal(report.aptCommand, 'apt-get install -y --no-install-recommends kickstand-no-such-package');
    assert.match(report.files[0]?.reason ?? '', /kickstand-no-such-package is not installed/);
    assert.deepEqual(sorted(report.copied), sorted(required.map((file) => file.name)));
    assert.equal(formatInstallReport(report).length, required.length + 1);
  });

  test('the CLI prints one line per file and exits 0', async () => {
    const dir = join(root, 'cli');
    const { stdout } = await runCli(dir);
    const lines = stdout.trim().split('\n');
    assert.equal(lines.length, BOOT_LOADERS.length);
    assert.match(lines.find((line) => line.includes('grubx64.efi')) ?? '', /^copied\s+grubx64\.efi\s+\/usr\/lib\/grub\/x86_64-efi\/monolithic\/grubnetx64\.efi \(grub-efi-amd64-bin\)$/);
    assert.match(lines.find((line) => line.includes('snp.efi')) ?? '', /^missing-optional\s+snp\.efi/);
    assert.ok((await lstat(join(dir, 'ipxe.efi'))).isFile());
  });

  test('the CLI exits 1 and names the apt command when a required file cannot be installed', async () => {
    const dir = join(root, 'cli-fail');
    await mkdir(join(dir, 'grubx64.efi'), { recursive: true });
    const failed = await runCli(dir).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failed?.code, 1);
    assert.match(failed?.stderr ?? '', /^kickstand: boot loaders in error: grubx64\.efi$/m);
  });
});

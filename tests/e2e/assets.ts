// What the end-to-end VM boots, built by the test itself from Debian packages and cached outside
// the repository (default /var/cache/kickstand-e2e, or $KICKSTAND_E2E_CACHE):
//
//   kernel/vmlinuz        from linux-image-amd64's image package (apt-get download + dpkg-deb -x,
//                         never installed), with the NIC drivers it needs as modules;
//   initramfs-<hash>.img  busybox-static + tests/e2e/initramfs/init (a stand-in for anaconda that
//                         fetches its kickstart, prints it on the serial console and calls /built);
//   localdisk.img         a disk whose boot sector prints a marker on COM1 and exits QEMU: proof
//                         that a host kickstand sent to its local disk really booted from it.
import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const cacheDir = process.env.KICKSTAND_E2E_CACHE ?? '/var/cache/kickstand-e2e';
const here = path.dirname(fileURLToPath(import.meta.url));

/** Printed by the local disk's boot sector; QEMU then exits through isa-debug-exit with this status. */
export const LOCAL_DISK_MARKER = 'KSE2E LOCAL DISK BOOTED';
export const LOCAL_DISK_EXIT_STATUS = (0x10 << 1) | 1;

/** NIC drivers the kernel needs (Debian builds them as modules); their dependencies are added. */
const NIC_MODULES = ['virtio_pci', 'virtio_net', 'e1000'];

export interface Assets {
  kernel: string;
  initrd: string;
  localDisk: string;
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** `apt-get download` into dir; refreshes the package lists once when the package is unknown. */
function aptDownload(pkg: string, dir: string): string {
  const download = () => spawnSync('apt-get', ['download', '-q', '-o', 'APT::Sandbox::User=root', pkg], { cwd: dir, encoding: 'utf8' });
  let result = download();
  if (result.status !== 0) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    result = download();
  }
  if (result.status !== 0) throw new Error(`apt-get download ${pkg} failed:\n${result.stderr}`);
  const base = pkg.replace(/[^a-z0-9.+-]/g, '');
  const deb = fs.readdirSync(dir).find((file) => file.startsWith(`${base}_`) && file.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no ${base}_*.deb in ${dir}`);
  return path.join(dir, deb);
}

/** A module's `depends=` list, read from its .modinfo strings. */
function moduleDepends(file: string): string[] {
  const data = fs.readFileSync(file);
  let at = data.indexOf('\0depends=');
  if (at < 0) return [];
  at += '\0depends='.length;
  const end = data.indexOf(0, at);
  return data.subarray(at, end).toString('latin1').split(',').filter(Boolean);
}

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

/** vmlinuz and the NIC modules (in load order), from linux-image-amd64, cached. */
function ensureKernel(): { vmlinuz: string; modules: string[] } {
  const dir = path.join(cacheDir, 'kernel');
  const ready = path.join(dir, 'READY');
  if (!fs.existsSync(ready)) {
    fs.rmSync(dir, { recursive: true, force: true });
    const work = fs.mkdtempSync(path.join(cacheDir, 'kernel-work-'));
    try {
      const meta = aptDownload('linux-image-amd64', work);
      // The metapackage only depends on the versioned package that holds the image.
      const depends = run('dpkg-deb', ['-f', meta, 'Depends']);
      const image = /linux-image-[0-9][^\s,(]*/.exec(depends)?.[0];
      if (!image) throw new Error(`linux-image-amd64 depends on no linux-image-<version>: ${depends}`);
      const deb = aptDownload(image, work);
      const root = path.join(work, 'root');
      run('dpkg-deb', ['-x', deb, root]);
      const vmlinuz = fs.readdirSync(path.join(root, 'boot')).find((file) => file.startsWith('vmlinuz-'));
      if (!vmlinuz) throw new Error(`${image} has no /boot/vmlinuz-*`);
      const byName = new Map<string, string>();
      for (const file of walk(path.join(root, 'lib', 'modules'))) {
        if (file.endsWith('.ko')) byName.set(path.basename(file, '.ko').replaceAll('-', '_'), file);
      }
      const order: string[] = [];
      const visit = (name: string): void => {
        if (order.includes(name)) return;
        const file = byName.get(name);
        if (!file) return; // built into the kernel
        for (const dep of moduleDepends(file)) visit(dep.replaceAll('-', '_'));
        order.push(name);
      };
      NIC_MODULES.forEach(visit);
      const staging = path.join(work, 'out');
      fs.mkdirSync(path.join(staging, 'modules'), { recursive: true });
      fs.copyFileSync(path.join(root, 'boot', vmlinuz), path.join(staging, 'vmlinuz'));
      for (const name of order) fs.copyFileSync(byName.get(name)!, path.join(staging, 'modules', `${name}.ko`));
      fs.writeFileSync(path.join(staging, 'modules.order'), `${order.join('\n')}\n`);
      fs.writeFileSync(path.join(staging, 'READY'), `${image} ${vmlinuz}\n`);
      fs.renameSync(staging, dir);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  const order = fs.readFileSync(path.join(dir, 'modules.order'), 'utf8').split('\n').filter(Boolean);
  return { vmlinuz: path.join(dir, 'vmlinuz'), modules: order.map((name) => path.join(dir, 'modules', `${name}.ko`)) };
}

/** busybox from busybox-static (unpacked, not installed: it conflicts with Debian's busybox). */
function ensureBusybox(): string {
  const file = path.join(cacheDir, 'busybox', 'busybox');
  if (!fs.existsSync(file)) {
    const work = fs.mkdtempSync(path.join(cacheDir, 'busybox-work-'));
    try {
      const deb = aptDownload('busybox-static', work);
      run('dpkg-deb', ['-x', deb, path.join(work, 'root')]);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.copyFileSync(path.join(work, 'root', 'bin', 'busybox'), `${file}.tmp`);
      fs.chmodSync(`${file}.tmp`, 0o755);
      fs.renameSync(`${file}.tmp`, file);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  }
  return file;
}

interface CpioEntry {
  name: string;
  mode: number;
  data?: Buffer;
  rdev?: [number, number];
}

/** A newc cpio archive (the initramfs format); device nodes need no mknod and no root. */
function cpio(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  const pad = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);
  let ino = 1;
  for (const entry of [...entries, { name: 'TRAILER!!!', mode: 0 }]) {
    const data = entry.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${entry.name}\0`);
    const fields = [ino++, entry.mode, 0, 0, 1, 0, data.length, 0, 0, entry.rdev?.[0] ?? 0, entry.rdev?.[1] ?? 0, name.length, 0];
    const header = Buffer.from(`070701${fields.map((value) => value.toString(16).padStart(8, '0')).join('')}`);
    parts.push(header, name, pad(header.length + name.length), data, pad(data.length));
  }
  return Buffer.concat(parts);
}

function buildInitramfs(busybox: string, modules: string[]): string {
  const DIR = 0o040755;
  const FILE = 0o100644;
  const EXEC = 0o100755;
  const CHR = 0o020600;
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'proc', 'sys', 'tmp', 'modules'].map((name) => ({ name, mode: DIR })),
    { name: 'dev/console', mode: CHR, rdev: [5, 1] },
    { name: 'dev/null', mode: CHR | 0o066, rdev: [1, 3] },
    { name: 'bin/busybox', mode: EXEC, data: fs.readFileSync(busybox) },
    { name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox') },
    { name: 'init', mode: EXEC, data: fs.readFileSync(path.join(here, 'initramfs', 'init')) },
    { name: 'udhcpc.script', mode: EXEC, data: fs.readFileSync(path.join(here, 'initramfs', 'udhcpc.script')) },
    { name: 'modules.order', mode: FILE, data: Buffer.from(`${modules.map((file) => path.basename(file, '.ko')).join('\n')}\n`) },
    ...modules.map((file) => ({ name: `modules/${path.basename(file)}`, mode: FILE, data: fs.readFileSync(file) })),
  ];
  const archive = cpio(entries);
  const file = path.join(cacheDir, `initramfs-${createHash('sha256').update(archive).digest('hex').slice(0, 16)}.img`);
  if (!fs.existsSync(file)) {
    fs.writeFileSync(`${file}.tmp`, gzipSync(archive, { level: 6 }));
    fs.renameSync(`${file}.tmp`, file);
  }
  for (const old of fs.readdirSync(cacheDir)) {
    if (/^initramfs-[0-9a-f]+\.img$/.test(old) && old !== path.basename(file)) fs.rmSync(path.join(cacheDir, old), { force: true });
  }
  return file;
}

/**
 * A 1 MiB disk whose MBR boot code (16-bit, hand assembled) writes LOCAL_DISK_MARKER to COM1 and
 * exits QEMU through the isa-debug-exit device (port 0xf4).
 */
function buildLocalDisk(): string {
  const message = Buffer.from(`${LOCAL_DISK_MARKER}\r\n\0`);
  const code = Buffer.from([
    0xfa, //                  cli
    0x31, 0xc0, //            xor ax, ax
    0x8e, 0xd8, //            mov ds, ax
    0xfc, //                  cld
    0xbe, 0x1d, 0x7c, //      mov si, 0x7c1d (message)
    0xba, 0xf8, 0x03, //      mov dx, 0x3f8 (COM1)
    0xac, //          next:   lodsb
    0x84, 0xc0, //            test al, al
    0x74, 0x03, //            jz done
    0xee, //                  out dx, al
    0xeb, 0xf8, //            jmp next
    0xba, 0xf4, 0x00, // done: mov dx, 0xf4 (isa-debug-exit)
    0xb0, 0x10, //            mov al, 0x10
    0xee, //                  out dx, al
    0xf4, //          halt:   hlt
    0xeb, 0xfd, //            jmp halt
  ]);
  if (code.length !== 0x1d) throw new Error('boot sector code length changed: fix the message address');
  const disk = Buffer.alloc(1024 * 1024);
  code.copy(disk, 0);
  message.copy(disk, code.length);
  disk[510] = 0x55;
  disk[511] = 0xaa;
  const file = path.join(cacheDir, 'localdisk.img');
  fs.writeFileSync(file, disk);
  return file;
}

/** Everything the VM boots; downloads only on the first run (or after the cache is removed). */
export function ensureAssets(): Assets {
  fs.mkdirSync(cacheDir, { recursive: true });
  const kernel = ensureKernel();
  const busybox = ensureBusybox();
  return { kernel: kernel.vmlinuz, initrd: buildInitramfs(busybox, kernel.modules), localDisk: buildLocalDisk() };
}

/** A throwaway copy of the local disk for one VM run (QEMU may write to it). */
export function localDiskCopy(assets: Assets, dir: string): string {
  const file = path.join(dir, 'localdisk.img');
  fs.copyFileSync(assets.localDisk, file);
  return file;
}

export const tmpRoot = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'kickstand-e2e-'));

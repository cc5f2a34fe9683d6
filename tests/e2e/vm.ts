// One QEMU run on the lab's tap device: SeaBIOS or OVMF, a virtio NIC with or without QEMU's
// iPXE ROM, the serial console captured to a file. A run ends when QEMU exits (the test initramfs
// powers off; the local disk exits through isa-debug-exit), when the firmware says it found
// nothing to boot, or at the deadline.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sleep, type Lab } from './lab.js';

export type Accel = 'kvm' | 'tcg';

export interface VmOptions {
  name: string;
  mac: string;
  firmware: 'bios' | 'uefi';
  /** QEMU's iPXE option ROM on the NIC; without it OVMF uses its own PXE client (BIOS has none). */
  nicRom: boolean;
  /** Direct kernel boot of a first stage (e.g. ipxe.lkrn with a script as its command line). */
  kernel?: { file: string; append: string };
  initrd?: string;
  /** A local disk, booted after the network (BIOS only). */
  disk?: string;
  timeoutMs: number;
}

export interface VmResult {
  console: string;
  /** The console's lines, each prefixed with the time (seconds since QEMU started) it appeared. */
  timeline: string;
  exitCode: number | null;
  timedOut: boolean;
  /** The firmware's own words when it found nothing (more) to boot; the run was stopped there. */
  gaveUp: string | undefined;
  ms: number;
}

/**
 * Where firmware ends up when nothing it tried booted: SeaBIOS would retry after 60 s, OVMF opens
 * its setup UI. Waiting on would only run into the deadline.
 */
const GAVE_UP = [/No bootable device\./, /BdsDxe: loading Boot\d+ "UiApp"/, /BdsDxe: loading Boot\d+ "EFI Internal Shell"/];

const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

export function qemuArgs(lab: Lab | undefined, options: VmOptions, accel: Accel, consoleFile: string, dir: string): string[] {
  const args = ['-accel', accel, '-m', '512', '-smp', '1', '-nographic', '-monitor', 'none', '-serial', `file:${consoleFile}`, '-no-reboot', '-nodefaults'];
  if (options.firmware === 'uefi') {
    const vars = path.join(dir, `${options.name}-OVMF_VARS.fd`);
    fs.copyFileSync(OVMF_VARS, vars);
    args.push('-machine', 'q35', '-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
  } else {
    args.push('-machine', 'pc', '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04');
  }
  if (lab) {
    const nic = ['virtio-net-pci', 'netdev=n0', `mac=${options.mac}`, 'bootindex=1'];
    if (!options.nicRom) nic.push('romfile=');
    args.push('-netdev', `tap,id=n0,ifname=${lab.tap},script=no,downscript=no`, '-device', nic.join(','));
  }
  // Network first (bootindex 1), then the disk: what a host set to boot from the network does.
  if (options.disk) args.push('-drive', `file=${options.disk},format=raw,if=none,id=disk0`, '-device', 'ide-hd,drive=disk0,bootindex=2');
  if (options.kernel) args.push('-kernel', options.kernel.file, '-append', options.kernel.append);
  if (options.initrd) args.push('-initrd', options.initrd);
  return args;
}

export async function runVm(lab: Lab, options: VmOptions, accel: Accel): Promise<VmResult> {
  const dir = path.join(lab.workDir, 'vm');
  fs.mkdirSync(dir, { recursive: true });
  const consoleFile = path.join(dir, `${options.name}.console.log`);
  fs.writeFileSync(consoleFile, '');
  const started = Date.now();
  const qemu = lab.spawn(`qemu ${options.name}`, lab.ns, 'qemu-system-x86_64', qemuArgs(lab, options, accel, consoleFile, dir));
  let timedOut = false;
  let gaveUp: string | undefined;
  const read = () => fs.readFileSync(consoleFile, 'utf8');
  const timeline: string[] = [];
  let seen = 0;
  const stamp = () => {
    const text = read();
    const complete = text.lastIndexOf('\n') + 1;
    if (complete > seen) {
      const at = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
      for (const line of text.slice(seen, complete).split('\n').slice(0, -1)) timeline.push(`[${at}s] ${cleanLine(line)}`);
      seen = complete;
    }
    return text;
  };
  for (;;) {
    const exited = await Promise.race([qemu.exited.then(() => true), sleep(250).then(() => false)]);
    if (exited) break;
    const text = stamp();
    gaveUp = GAVE_UP.map((pattern) => pattern.exec(text)?.[0]).find(Boolean);
    if (gaveUp) {
      await lab.stop(qemu, 1000);
      break;
    }
    if (Date.now() - started > options.timeoutMs) {
      timedOut = true;
      await lab.stop(qemu, 1000);
      break;
    }
  }
  const text = stamp();
  const rest = text.slice(seen);
  if (rest) timeline.push(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${cleanLine(rest)}`);
  if (qemu.output) timeline.push(`--- qemu stderr ---\n${qemu.output}`);
  const consoleText = text + (qemu.output ? `\n--- qemu stderr ---\n${qemu.output}` : '');
  return { console: consoleText, timeline: timeline.join('\n'), exitCode: qemu.child.exitCode, timedOut, gaveUp, ms: Date.now() - started };
}

/** A console line without terminal escapes and carriage returns, for people to read. */
export function cleanLine(line: string): string {
  return line.replace(/\x1b\[[0-9;?]*[a-zA-Z]|\x1bc|\r/g, '');
}

/**
 * KVM when /dev/kvm really runs what the cases run, TCG otherwise; KICKSTAND_E2E_ACCEL=kvm|tcg
 * skips the probe. Nested virtualisation may open /dev/kvm and then hang or fail with "KVM internal
 * error" as soon as iPXE or Linux runs, while a trivial boot sector still works: so the probe boots
 * iPXE (ipxe.lkrn, whose `exit` returns to the BIOS, which boots the local disk) and then the test
 * kernel and initramfs, each of which takes a second or two under a working KVM.
 */
export function chooseAccel(assets: { kernel: string; initrd: string; localDisk: string }, dir: string): Accel {
  const forced = process.env.KICKSTAND_E2E_ACCEL;
  if (forced === 'kvm' || forced === 'tcg') return forced;
  try {
    fs.accessSync('/dev/kvm', fs.constants.R_OK | fs.constants.W_OK);
  } catch {
    return 'tcg';
  }
  const probe = (name: string, options: Partial<VmOptions>, expect: string): boolean => {
    const consoleFile = path.join(dir, `${name}.console.log`);
    const args = qemuArgs(undefined, { name, mac: '', firmware: 'bios', nicRom: false, timeoutMs: 0, ...options }, 'kvm', consoleFile, dir);
    const result = spawnSync('qemu-system-x86_64', args, { timeout: 10_000, killSignal: 'SIGKILL', stdio: 'ignore' });
    return result.error === undefined && fs.existsSync(consoleFile) && fs.readFileSync(consoleFile, 'latin1').includes(expect);
  };
  const disk = path.join(dir, 'kvm-probe.img');
  fs.copyFileSync(assets.localDisk, disk);
  const ok =
    probe('kvm-probe-ipxe', { disk, kernel: { file: '/usr/lib/ipxe/ipxe.lkrn', append: 'exit' } }, 'LOCAL DISK BOOTED') &&
    probe('kvm-probe-linux', { kernel: { file: assets.kernel, append: 'console=ttyS0 quiet panic=1' }, initrd: assets.initrd }, '=== KSE2E DONE ===');
  fs.rmSync(disk, { force: true });
  return ok ? 'kvm' : 'tcg';
}

// End to end: a QEMU virtual machine, whose firmware nobody here wrote, network-boots against
// `kickstand serve` and walks the whole chain to its kickstart and /built. One isolated network
// for the run (tests/e2e/lab.ts), one metal host per case, cases one after another.
//
// What stands in for anaconda is a Debian kernel with a busybox initramfs (tests/e2e/assets.ts,
// tests/e2e/initramfs/init): it fetches inst.ks=, prints the kickstart on the serial console and
// calls the /built URL the kickstart's %post names. Every case checks what the VM printed (the
// kickstart byte for byte against `kickstand render` for the same build and base URL) and
// kickstand's recorded events for the host.
//
// Needs root (namespaces, tap), the packages of .ci/install-e2e-packages, and a built dist/
// (npm run build). KVM is used when it really works, TCG otherwise (KICKSTAND_E2E_ACCEL=tcg|kvm).
// KICKSTAND_E2E_KEEP=1 keeps the work directory (site copy, data, consoles) for inspection.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test, type TestContext } from 'node:test';
import { ensureAssets, LOCAL_DISK_EXIT_STATUS, LOCAL_DISK_MARKER, localDiskCopy, tmpRoot, type Assets } from './assets.js';
import { cliPath, Kickstand, type HostEvent } from './kickstand.js';
import { Lab, tail } from './lab.js';
import { chooseAccel, runVm, type Accel, type VmOptions, type VmResult } from './vm.js';

const OS = 'CentOS-7.6.1810';
/** Per VM run; the node:test timeout of each case is a backstop above the sum of its runs. */
const BIOS_TIMEOUT_MS = 90_000;
const UEFI_TIMEOUT_MS = 120_000;

/**
 * A BIOS PXE client that is not iPXE. QEMU's only BIOS NIC ROM is iPXE, whose DHCP user class
 * "iPXE" rightly gets the boot script, never a boot loader. Debian's ipxe.lkrn, booted as a kernel
 * with a script for a command line, sends another user class and then does what a PXE ROM does:
 * TFTP the offered boot file from next-server and run it with the PXE API underneath.
 */
const PLAIN_PXE_ROM = {
  file: '/usr/lib/ipxe/ipxe.lkrn',
  append: 'set user-class PXEClient && dhcp && clear user-class && chain tftp://${next-server}/${filename}',
};

interface HostSpec {
  name: string;
  mac: string;
  ip: string;
  loader: 'ipxe' | 'pxelinux' | 'grub';
  nameservers?: string[];
}

let lab: Lab;
let kickstand: Kickstand;
let assets: Assets;
let accel: Accel;
const prerequisites = missingPrerequisite();
const skip = prerequisites ?? false;
const hosts = new Map<string, HostSpec>();

function missingPrerequisite(): string | undefined {
  if (process.platform !== 'linux') return 'needs Linux';
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, tap devices, ports 67/69)';
  for (const tool of ['ip', 'qemu-system-x86_64', 'dnsmasq', 'apt-get', 'dpkg-deb']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool}: run .ci/install-e2e-packages`;
  }
  for (const file of ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/lib/ipxe/ipxe.lkrn', '/usr/lib/ipxe/qemu/efi-virtio.rom']) {
    if (!fs.existsSync(file)) return `needs ${file}: run .ci/install-e2e-packages`;
  }
  if (!fs.existsSync(cliPath)) return `needs ${path.relative(process.cwd(), cliPath)}: run npm run build`;
  return undefined;
}

function defineHost(spec: HostSpec): HostSpec {
  const nameservers = spec.nameservers ?? [lab.serverIp];
  // iPXE fetches kernel and initrd over HTTP from kickstand's http/ folder; pxelinux and GRUB
  // over TFTP from pxe/images/<os>/ (the default paths).
  const images = spec.loader === 'ipxe' ? `kernel: ${kickstand.baseUrl}/e2e/vmlinuz\ninitrd: ${kickstand.baseUrl}/e2e/initrd.img\n` : '';
  kickstand.write(
    `builds/metal/${spec.name}.yaml`,
    [
      `fqdn: ${spec.name}.e2e.example.com`,
      `mac: ${spec.mac}`,
      `os: ${OS}`,
      'install: once',
      `loader: ${spec.loader}`,
      'device: eth0',
      `ipaddr: ${spec.ip}`,
      'netmask: 255.255.255.0',
      `gateway: ${lab.serverIp}`,
      `nameserver: ${nameservers.join(',')}`,
      'kernel_args:',
      '  - console=ttyS0,115200n8',
      '  - quiet',
      '  - panic=1',
    ].join('\n') + `\n${images}`,
  );
  hosts.set(spec.name, spec);
  return spec;
}

function host(name: string): HostSpec {
  const spec = hosts.get(name);
  if (!spec) throw new Error(`no host ${name}`);
  return spec;
}

// ---- what the VM printed ------------------------------------------------------------------------

/** The text between two marker lines the initramfs printed (serial CRLF turned back into LF). */
function between(consoleText: string, begin: string, end: string): string | undefined {
  const text = consoleText.replace(/\r\n/g, '\n');
  const start = text.indexOf(`${begin}\n`);
  if (start < 0) return undefined;
  const from = start + begin.length + 1;
  const stop = text.indexOf(end, from);
  return stop < 0 ? undefined : text.slice(from, stop);
}

const kickstartOf = (run: VmResult) => between(run.console, '=== KSE2E KICKSTART BEGIN ===', '=== KSE2E KICKSTART END ===');
const cmdlineOf = (run: VmResult) => between(run.console, '=== KSE2E CMDLINE BEGIN ===', '=== KSE2E CMDLINE END ===')?.trim();

// ---- what kickstand recorded -------------------------------------------------------------------

/** The host's events since `since` (ISO time), oldest first. */
function eventsSince(name: string, since: string): HostEvent[] {
  return kickstand
    .host(name)
    .events.filter((event) => event.at >= since)
    .reverse();
}

type Expected = [HostEvent['kind'], RegExp];

/** The expected events appear in this order (others may come between them). */
function assertEventSequence(events: HostEvent[], expected: Expected[]): void {
  let at = 0;
  for (const [kind, detail] of expected) {
    const found = events.findIndex((event, index) => index >= at && event.kind === kind && detail.test(event.detail));
    assert.ok(found >= 0, `no '${kind}' event matching ${detail} (in order) among:\n${formatEvents(events)}`);
    at = found + 1;
  }
}

const formatEvents = (events: HostEvent[]) => events.map((e) => `  ${e.at} ${e.kind.padEnd(11)} ${e.detail}${e.ip ? ` (${e.ip})` : ''}`).join('\n');

interface HttpRequest {
  method: string;
  url: string;
  status: number;
  ip: string;
}

/** HTTP requests kickstand logged (pino-http lines) in a slice of its log. */
function httpRequests(log: string): HttpRequest[] {
  const requests: HttpRequest[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{') || !line.includes('"request completed"')) continue;
    try {
      const entry = JSON.parse(line) as { req?: { method: string; url: string; remoteAddress: string }; res?: { statusCode: number } };
      if (entry.req && entry.res) requests.push({ method: entry.req.method, url: entry.req.url, status: entry.res.statusCode, ip: entry.req.remoteAddress.replace(/^::ffff:/, '') });
    } catch {
      /* not a JSON log line */
    }
  }
  return requests;
}

function assertFetched(requests: HttpRequest[], url: RegExp, what: string): HttpRequest {
  const request = requests.find((r) => r.method === 'GET' && url.test(r.url));
  assert.ok(request, `${what}: no GET matching ${url} in kickstand's log; requests were:\n${requests.map((r) => `  ${r.method} ${r.url} ${r.status} from ${r.ip}`).join('\n')}`);
  assert.equal(request.status, 200, `${what}: GET ${request.url} answered ${request.status}`);
  return request;
}

// ---- one VM run and its report -----------------------------------------------------------------

interface Boot {
  run: VmResult;
  since: string;
  logMark: number;
}

async function boot(t: TestContext, name: string, options: Omit<VmOptions, 'name' | 'mac' | 'timeoutMs'> & { timeoutMs?: number }): Promise<Boot> {
  const spec = host(name);
  const since = new Date().toISOString();
  const logMark = kickstand.logLength();
  const run = await runVm(lab, { name: `${name}-${Date.now()}`, mac: spec.mac, timeoutMs: options.firmware === 'uefi' ? UEFI_TIMEOUT_MS : BIOS_TIMEOUT_MS, ...options }, accel);
  const end = run.timedOut ? ', TIMED OUT' : run.gaveUp ? `, stopped: firmware said "${run.gaveUp}"` : '';
  t.diagnostic(`${name}: VM ran ${(run.ms / 1000).toFixed(1)} s (${accel}), exit ${run.exitCode}${end}`);
  return { run, since, logMark };
}

/** Runs the assertions; on failure adds the tail of the serial console, kickstand's log and the host's events. */
function report(name: string, booted: Boot, check: () => void): void {
  try {
    check();
  } catch (error) {
    let events = '';
    try {
      events = formatEvents(eventsSince(name, booted.since));
    } catch (e) {
      events = String(e);
    }
    const log = tail(kickstand.logSince(booted.logMark), 40)
      .split('\n')
      .map((line) => (line.length > 400 ? `${line.slice(0, 400)}...` : line))
      .join('\n');
    const details = [
      `--- serial console of ${name} (tail; seconds since QEMU started) ---`,
      tail(booted.run.timeline, 50),
      `--- kickstand log (tail) ---`,
      log,
      `--- events of metal/${name} during this boot ---`,
      events,
    ].join('\n');
    // A new error: test reporters print the stack, which an edited message would not change.
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${details}`, { cause: error });
  }
}

/**
 * The install half every chain ends with: the VM powered itself off after printing the kickstart
 * kickstand renders for it (byte for byte) and reporting /built, and kickstand recorded it.
 */
function assertInstalled(name: string, booted: Boot, baseUrl = kickstand.baseUrl): { kickstart: string; cmdline: string } {
  const spec = host(name);
  const { run } = booted;
  assert.equal(run.gaveUp, undefined, `the firmware found nothing to boot ("${run.gaveUp}")`);
  assert.equal(run.timedOut, false, `the VM did not finish within ${run.ms} ms`);
  assert.equal(run.exitCode, 0, 'the VM did not power itself off');
  const cmdline = cmdlineOf(run);
  assert.ok(cmdline, 'the installer stand-in never printed its kernel command line (it did not boot)');
  const ksUrl = `${baseUrl}/ks?build=metal/${name}&os=${OS}`;
  assert.ok(cmdline.split(' ').includes(`inst.ks=${ksUrl}`), `kernel command line lacks inst.ks=${ksUrl}: ${cmdline}`);
  const kickstart = kickstartOf(run);
  assert.ok(kickstart !== undefined, 'the VM printed no kickstart');
  const expected = kickstand.render(`metal/${name}`, OS, baseUrl);
  assert.equal(kickstart, expected, 'the kickstart the VM fetched differs from `kickstand render` for the same build and base URL');
  const sha = createHash('sha256').update(expected).digest('hex');
  assert.match(run.console, new RegExp(`KSE2E: kickstart sha256 ${sha} bytes ${Buffer.byteLength(expected)}\\r?\\n`), 'the kickstart bytes (sha256) differ from `kickstand render`');
  assert.match(run.console, new RegExp(`KSE2E: calling ${escape(`${baseUrl}/built?build=metal/${name}`)}\\r?\\n`), "the VM did not call the /built URL of the kickstart's %post");
  assert.match(run.console, new RegExp(`KSE2E: built ok: metal/${name} marked built`), '/built was not accepted');
  const state = kickstand.host(name);
  assert.equal(state.state, 'built', `kickstand's state for metal/${name}`);
  const events = eventsSince(name, booted.since);
  assertEventSequence(events, [
    ['kickstart', new RegExp(`^${escape(ksUrl)}$`)],
    ['built', /from the host/],
  ]);
  for (const kind of ['kickstart', 'built'] as const) {
    assert.equal(events.find((event) => event.kind === kind)?.ip, spec.ip, `the ${kind} event should come from the host's address ${spec.ip}`);
  }
  return { kickstart, cmdline };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

function ipxeScriptEvents(): Expected[] {
  return [
    ['dhcp', new RegExp(`^DISCOVER -> offer ${escape(kickstand.baseUrl)}/boot\\.ipxe$`)],
    ['dhcp', new RegExp(`^REQUEST -> ack ${escape(kickstand.baseUrl)}/boot\\.ipxe$`)],
    ['boot-script', /^ipxe: install \(state pending \(install: once\)\)$/],
  ];
}

function assertIpxeHttpChain(booted: Boot, name: string): void {
  const requests = httpRequests(kickstand.logSince(booted.logMark));
  assertFetched(requests, /^\/boot\.ipxe$/, 'iPXE boot script');
  assertFetched(requests, new RegExp(`^/ipxe\\?mac=${escape(encodeURIComponent(host(name).mac))}&`), 'per-host iPXE script');
  assertFetched(requests, /^\/e2e\/vmlinuz$/, 'kernel over HTTP');
  assertFetched(requests, /^\/e2e\/initrd\.img$/, 'initrd over HTTP');
}

const size = (relative: string) => fs.statSync(path.join(kickstand.root, 'pxe', relative)).size;

// ---- the run -----------------------------------------------------------------------------------

describe('a QEMU VM network-installs itself through kickstand', { timeout: 15 * 60_000 }, () => {
  before(async () => {
    if (prerequisites) return;
    assets = ensureAssets();
    lab = new Lab(tmpRoot());
    accel = chooseAccel(assets, lab.workDir);
    await lab.setup();
    kickstand = new Kickstand(lab);
    kickstand.prepareSite();
    // The installer stand-in, where each loader looks for it: http/ (iPXE) and pxe/images/<os>/ (TFTP).
    for (const dir of ['http/e2e', `pxe/images/${OS}`]) {
      fs.mkdirSync(path.join(kickstand.root, dir), { recursive: true });
      fs.copyFileSync(assets.kernel, path.join(kickstand.root, dir, 'vmlinuz'));
      fs.copyFileSync(assets.initrd, path.join(kickstand.root, dir, 'initrd.img'));
    }
    const at = (n: number) => `${lab.net}.${n}`;
    defineHost({ name: 'bios-ipxe', mac: '52:54:00:e2:e0:01', ip: at(21), loader: 'ipxe' });
    defineHost({ name: 'bios-undionly', mac: '52:54:00:e2:e0:02', ip: at(22), loader: 'ipxe' });
    defineHost({ name: 'bios-pxelinux', mac: '52:54:00:e2:e0:03', ip: at(23), loader: 'pxelinux' });
    defineHost({ name: 'ipxe-rom-pxelinux', mac: '52:54:00:e2:e0:04', ip: at(24), loader: 'pxelinux' });
    defineHost({ name: 'uefi-ipxe', mac: '52:54:00:e2:e0:05', ip: at(25), loader: 'ipxe' });
    defineHost({ name: 'uefi-grub', mac: '52:54:00:e2:e0:06', ip: at(26), loader: 'grub' });
    defineHost({ name: 'build-mode', mac: '52:54:00:e2:e0:07', ip: at(27), loader: 'ipxe' });
    defineHost({ name: 'static', mac: '52:54:00:e2:e0:08', ip: at(28), loader: 'ipxe', nameservers: [at(53), at(54)] });
    defineHost({ name: 'proxy', mac: '52:54:00:e2:e0:09', ip: at(29), loader: 'ipxe' });
    defineHost({ name: 'uefi-vip', mac: '52:54:00:e2:e0:0a', ip: at(30), loader: 'ipxe' });
    const validate = kickstand.cli('validate', '--root', kickstand.root);
    if (validate.status !== 0) throw new Error(`the e2e site does not validate:\n${validate.stdout}${validate.stderr}`);
    await kickstand.ensure('full');
  }, { timeout: 300_000 });

  after(async () => {
    if (prerequisites) return;
    await kickstand?.stop();
    lab?.cleanup();
    if (lab && process.env.KICKSTAND_E2E_KEEP !== '1') fs.rmSync(lab.workDir, { recursive: true, force: true });
    else if (lab) console.log(`kept ${lab.workDir}`);
  });

  test('prerequisites', () => {
    assert.equal(prerequisites, undefined, prerequisites);
  });

  test('BIOS, QEMU iPXE ROM, full DHCP: /boot.ipxe -> /ipxe -> kernel and initrd over HTTP -> kickstart -> /built', { skip, timeout: 120_000 }, async (t) => {
    await kickstand.ensure('full');
    const booted = await boot(t, 'bios-ipxe', { firmware: 'bios', nicRom: true });
    report('bios-ipxe', booted, () => {
      assertInstalled('bios-ipxe', booted);
      assertIpxeHttpChain(booted, 'bios-ipxe');
      assertEventSequence(eventsSince('bios-ipxe', booted.since), [...ipxeScriptEvents(), ['kickstart', /./], ['built', /./]]);
    });
  });

  test('BIOS, a plain PXE client chain-loads undionly.kpxe over TFTP, then the iPXE chain', { skip, timeout: 120_000 }, async (t) => {
    await kickstand.ensure('full');
    const booted = await boot(t, 'bios-undionly', { firmware: 'bios', nicRom: false, kernel: PLAIN_PXE_ROM });
    report('bios-undionly', booted, () => {
      assertInstalled('bios-undionly', booted);
      assertIpxeHttpChain(booted, 'bios-undionly');
      assertEventSequence(eventsSince('bios-undionly', booted.since), [
        ['dhcp', /^DISCOVER -> offer undionly\.kpxe$/],
        ['dhcp', /^REQUEST -> ack undionly\.kpxe$/],
        ['tftp', new RegExp(`^undionly\\.kpxe ${size('undionly.kpxe')} bytes$`)],
        ...ipxeScriptEvents(),
        ['kickstart', /./],
        ['built', /./],
      ]);
    });
  });

  test('BIOS, loader pxelinux: pxelinux.0 + generated pxelinux.cfg/01-<mac>, kernel and initrd over TFTP', { skip, timeout: 120_000 }, async (t) => {
    await kickstand.ensure('full');
    const booted = await boot(t, 'bios-pxelinux', { firmware: 'bios', nicRom: false, kernel: PLAIN_PXE_ROM });
    report('bios-pxelinux', booted, () => {
      assertInstalled('bios-pxelinux', booted);
      const mac = host('bios-pxelinux').mac.replaceAll(':', '-');
      assertEventSequence(eventsSince('bios-pxelinux', booted.since), [
        ['dhcp', /^DISCOVER -> offer pxelinux\.0$/],
        ['dhcp', /^REQUEST -> ack pxelinux\.0$/],
        ['tftp', new RegExp(`^pxelinux\\.0 ${size('pxelinux.0')} bytes$`)],
        ['tftp', new RegExp(`^ldlinux\\.c32 ${size('ldlinux.c32')} bytes$`)],
        ['boot-script', new RegExp(`^pxelinux\\.cfg/01-${mac}: install \\(state pending \\(install: once\\)\\)$`)],
        ['tftp', new RegExp(`^pxelinux\\.cfg/01-${mac} \\d+ bytes$`)],
        ['tftp', new RegExp(`^images/${escape(OS)}/vmlinuz ${size(`images/${OS}/vmlinuz`)} bytes$`)],
        ['tftp', new RegExp(`^images/${escape(OS)}/initrd\\.img ${size(`images/${OS}/initrd.img`)} bytes$`)],
        ['kickstart', /./],
        ['built', /./],
      ]);
    });
  });

  test('BIOS, QEMU iPXE ROM, loader pxelinux: iPXE gets the boot script and fetches the pxe/ kernel over TFTP', { skip, timeout: 120_000 }, async (t) => {
    await kickstand.ensure('full');
    const booted = await boot(t, 'ipxe-rom-pxelinux', { firmware: 'bios', nicRom: true });
    report('ipxe-rom-pxelinux', booted, () => {
      assertInstalled('ipxe-rom-pxelinux', booted);
      assertEventSequence(eventsSince('ipxe-rom-pxelinux', booted.since), [
        ...ipxeScriptEvents(),
        ['tftp', new RegExp(`^images/${escape(OS)}/vmlinuz ${size(`images/${OS}/vmlinuz`)} bytes$`)],
        ['tftp', new RegExp(`^images/${escape(OS)}/initrd\\.img ${size(`images/${OS}/initrd.img`)} bytes$`)],
        ['kickstart', /./],
        ['built', /./],
      ]);
    });
  });

  test("UEFI (OVMF's own PXE client, no NIC ROM): TFTP ipxe.efi, then the iPXE chain over HTTP", { skip, timeout: 150_000 }, async (t) => {
    await kickstand.ensure('full');
    const booted = await boot(t, 'uefi-ipxe', { firmware: 'uefi', nicRom: false });
    report('uefi-ipxe', booted, () => {
      const { cmdline } = assertInstalled('uefi-ipxe', booted);
      assert.ok(cmdline.split(' ').includes('initrd=initrd.img'), `iPXE on EFI needs initrd=<name> on the command line: ${cmdline}`);
      assertIpxeHttpChain(booted, 'uefi-ipxe');
      assertEventSequence(eventsSince('uefi-ipxe', booted.since), [
        ['dhcp', /^DISCOVER -> offer ipxe\.efi$/],
        ['dhcp', /^REQUEST -> ack ipxe\.efi$/],
        ['tftp', new RegExp(`^ipxe\\.efi ${size('ipxe.efi')} bytes$`)],
        ...ipxeScriptEvents(),
        ['kickstart', /./],
        ['built', /./],
      ]);
    });
  });

  test("UEFI, loader grub: GRUB's network image + generated grub.cfg-01-<mac>, kernel and initrd over TFTP", { skip, timeout: 150_000 }, async (t) => {
    await kickstand.ensure('full');
    const booted = await boot(t, 'uefi-grub', { firmware: 'uefi', nicRom: false });
    report('uefi-grub', booted, () => {
      assertInstalled('uefi-grub', booted);
      const mac = host('uefi-grub').mac.replaceAll(':', '-');
      assertEventSequence(eventsSince('uefi-grub', booted.since), [
        ['dhcp', /^DISCOVER -> offer grubx64\.efi$/],
        ['dhcp', /^REQUEST -> ack grubx64\.efi$/],
        ['tftp', new RegExp(`^grubx64\\.efi ${size('grubx64.efi')} bytes$`)],
        ['boot-script', new RegExp(`^grub/grub\\.cfg-01-${mac}: install \\(state pending \\(install: once\\)\\)$`)],
        ['tftp', new RegExp(`^grub/grub\\.cfg-01-${mac} \\d+ bytes$`)],
        ['tftp', new RegExp(`^images/${escape(OS)}/vmlinuz ${size(`images/${OS}/vmlinuz`)} bytes$`)],
        ['tftp', new RegExp(`^images/${escape(OS)}/initrd\\.img ${size(`images/${OS}/initrd.img`)} bytes$`)],
        ['kickstart', /./],
        ['built', /./],
      ]);
    });
  });

  test('build mode: installed once, the next boot is from the local disk, after `kickstand reinstall` it installs again', { skip, timeout: 300_000 }, async (t) => {
    await kickstand.ensure('full');
    const name = 'build-mode';
    const disk = localDiskCopy(assets, lab.workDir);
    const first = await boot(t, name, { firmware: 'bios', nicRom: true, disk });
    report(name, first, () => {
      assertInstalled(name, first);
    });

    const second = await boot(t, name, { firmware: 'bios', nicRom: true, disk });
    report(name, second, () => {
      assert.equal(second.run.gaveUp, undefined, `the firmware found nothing to boot ("${second.run.gaveUp}")`);
      assert.equal(second.run.timedOut, false, 'the VM did not boot its local disk');
      assert.ok(second.run.console.includes(LOCAL_DISK_MARKER), 'the VM did not boot from its local disk');
      assert.equal(second.run.exitCode, LOCAL_DISK_EXIT_STATUS, 'QEMU should have exited through the local disk');
      assert.equal(kickstartOf(second.run), undefined, 'a built host must not fetch its kickstart again');
      const events = eventsSince(name, second.since);
      assertEventSequence(events, [['boot-script', /^ipxe: local \(built \(install: once\)\)$/]]);
      assert.deepEqual(events.filter((e) => e.kind === 'kickstart' || e.kind === 'built'), [], 'no kickstart or /built on a local boot');
      assert.equal(kickstand.host(name).state, 'built');
    });

    kickstand.reinstall(name);
    assert.equal(kickstand.host(name).state, 'pending');
    const third = await boot(t, name, { firmware: 'bios', nicRom: true, disk });
    report(name, third, () => {
      assertInstalled(name, third);
      assertEventSequence(eventsSince(name, third.since), [...ipxeScriptEvents(), ['kickstart', /./], ['built', /./]]);
      assert.equal(third.run.console.includes(LOCAL_DISK_MARKER), false, 'after reinstall the VM must install, not boot its disk');
    });
  });

  test("static address: the VM's kernel gets ip= and nameserver=, its kickstart the static network line", { skip, timeout: 120_000 }, async (t) => {
    await kickstand.ensure('full');
    const name = 'static';
    const spec = host(name);
    const booted = await boot(t, name, { firmware: 'bios', nicRom: true });
    report(name, booted, () => {
      const { kickstart, cmdline } = assertInstalled(name, booted);
      const args = cmdline.split(' ');
      assert.ok(args.includes(`ip=${spec.ip}::${lab.serverIp}:255.255.255.0:${name}:eth0:none`), `no static ip= argument: ${cmdline}`);
      for (const ns of spec.nameservers!) assert.ok(args.includes(`nameserver=${ns}`), `no nameserver=${ns}: ${cmdline}`);
      assert.match(
        kickstart,
        new RegExp(`^network --device eth0 --bootproto static --ip ${escape(spec.ip)} --hostname ${escape(`${name}.e2e.example.com`)} --netmask 255\\.255\\.255\\.0 --gateway ${escape(lab.serverIp)} --nameserver ${escape(spec.nameservers!.join(','))}$`, 'm'),
      );
      assert.match(booted.run.console, new RegExp(`KSE2E: static address ${escape(spec.ip)}/24 on eth0 \\(from ip=\\)`), 'the VM did not configure the address from ip=');
      assertEventSequence(eventsSince(name, booted.since), [
        ['dhcp', new RegExp(`^DISCOVER -> offer `)],
        ['boot-script', /^ipxe: install /],
        ['kickstart', /./],
        ['built', /./],
      ]);
      const offer = eventsSince(name, booted.since).find((e) => e.kind === 'dhcp');
      assert.equal(offer?.ip, spec.ip, 'full DHCP should hand the host its reserved ipaddr');
    });
  });

  test('proxyDHCP: dnsmasq assigns the address, kickstand (proxy) only adds boot information; the BIOS iPXE chain completes', { skip, timeout: 150_000 }, async (t) => {
    await kickstand.ensure('proxy');
    const dhcp = lab.startPlainDhcp();
    const name = 'proxy';
    try {
      const booted = await boot(t, name, { firmware: 'bios', nicRom: true });
      report(name, booted, () => {
        assertInstalled(name, booted);
        assertIpxeHttpChain(booted, name);
        const events = eventsSince(name, booted.since);
        assertEventSequence(events, [
          ['dhcp', new RegExp(`^DISCOVER -> offer ${escape(kickstand.baseUrl)}/boot\\.ipxe$`)],
          ['boot-script', /^ipxe: install /],
          ['kickstart', /./],
          ['built', /./],
        ]);
        const dhcpEvents = events.filter((e) => e.kind === 'dhcp');
        assert.ok(dhcpEvents.every((e) => e.ip === null && !/ack/.test(e.detail)), `a proxy never assigns an address:\n${formatEvents(dhcpEvents)}`);
        const lease = new RegExp(`DHCPACK\\(lan0\\) (${escape(lab.net)}\\.\\d+) ${host(name).mac}`).exec(dhcp.output);
        assert.ok(lease, `dnsmasq did not lease an address to the VM:\n${tail(dhcp.output, 20)}`);
        const script = events.find((e) => e.kind === 'boot-script');
        assert.equal(script?.ip, lease[1], "iPXE fetched its script from dnsmasq's address");
      });
    } finally {
      await lab.stop(dhcp);
    }
  });

  test("site DHCP names a second address of kickstand's interface (a VIP) as next-server: OVMF's PXE client gets ipxe.efi from that address", { skip, timeout: 150_000 }, async (t) => {
    // kickstand listens on every address (no --server-ip). The kernel's own choice of source for
    // a reply to the VM would be the interface's first address, lab.serverIp; OVMF's TFTP client
    // only accepts replies from the address it asked, so this boot needs the reply from the VIP.
    const vip = `${lab.net}.3`;
    const vipUrl = `http://${vip}:8080`;
    lab.addServerAddress(vip);
    await kickstand.ensure('off', vipUrl);
    const dhcp = lab.startSiteDhcp(vip, `${vipUrl}/boot.ipxe`);
    const name = 'uefi-vip';
    try {
      const booted = await boot(t, name, { firmware: 'uefi', nicRom: false });
      report(name, booted, () => {
        assertInstalled(name, booted, vipUrl);
        assertIpxeHttpChain(booted, name);
        const served = kickstand
          .logSince(booted.logMark)
          .split('\n')
          .filter((line) => line.includes('"TFTP file served"'))
          .map((line) => JSON.parse(line) as { file: string; bytes: number });
        assert.deepEqual(served.map((entry) => [entry.file, entry.bytes]), [['ipxe.efi', size('ipxe.efi')]], 'OVMF fetched ipxe.efi over TFTP');
        assert.match(dhcp.output, new RegExp(`DHCPACK\\(lan0\\) ${escape(lab.net)}\\.\\d+ ${host(name).mac}`), 'the site DHCP server leased the VM its address');
      });
    } finally {
      await lab.stop(dhcp);
    }
  });
});

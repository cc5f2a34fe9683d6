// The "done when" of network boot, with real clients against `kickstand serve`, inside two
// network namespaces this test creates (a veth pair; addresses exist only there) and deletes:
//
//   [ns cli] udhcpc, curl  --veth--  [ns srv] kickstand serve --dhcp proxy (ports 67, 69, 4011, 8080)
//
// The client's address is static, standing in for the site's own DHCP server; kickstand in proxy
// mode only adds boot information. Needs root, iproute2, busybox and curl.
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { copySite, repoRoot } from '../helpers/site.js';

const missing = process.getuid?.() !== 0 ? 'needs root for network namespaces' : ['ip', 'busybox', 'curl'].find((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
const id = randomBytes(2).toString('hex');
const ns = { srv: `ks-sys-${id}-srv`, cli: `ks-sys-${id}-cli` };
const dev = { srv: `ks${id}S`, cli: `ks${id}C` };
const net = `10.${200 + (parseInt(id, 16) % 50)}.${parseInt(id.slice(0, 2), 16)}`;
const SERVER_IP = `${net}.1`;
const HOST_IP = `${net}.20`;
const HOST_MAC = '02:6b:73:00:00:20';
const cli = path.join(repoRoot, 'dist', 'cli.js');

const site = copySite();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kickstand-sys-state-'));
const bootLoader = randomBytes(300_000 + 123);
let server: ChildProcess | undefined;
let serverLog = '';

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
const inClient = (cmd: string, args: string[]) => spawnSync('ip', ['netns', 'exec', ns.cli, cmd, ...args], { encoding: 'utf8', timeout: 30_000 });
const curl = (...args: string[]) => inClient('curl', ['-sS', '--max-time', '10', ...args]);
const kickstand = (...args: string[]) => spawnSync(process.execPath, [cli, ...args, '--root', site.root, '--data-dir', dataDir], { encoding: 'utf8' });

function cleanup(): void {
  if (server?.pid) {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const name of Object.values(ns)) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}
process.on('exit', cleanup);

async function startServer(): Promise<void> {
  serverLog = '';
  server = spawn('ip', ['netns', 'exec', ns.srv, process.execPath, cli, 'serve', '--root', site.root, '--data-dir', dataDir, '--dhcp', 'proxy', '--server-ip', SERVER_IP, '--http-port', '8080', '--tftp-port', '69', '--log-level', 'debug'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout!.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  server.stderr!.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  const deadline = Date.now() + 20_000;
  while (!serverLog.includes('DHCP server listening')) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error(`server did not start:\n${serverLog}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function stopServer(): Promise<void> {
  const exited = new Promise((resolve) => server!.once('exit', resolve));
  server!.kill('SIGTERM');
  await exited;
}

before(async () => {
  if (missing) return;
  for (const name of Object.values(ns)) {
    run('ip', ['netns', 'add', name]);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }
  run('ip', ['-n', ns.srv, 'link', 'add', dev.srv, 'type', 'veth', 'peer', 'name', dev.cli, 'netns', ns.cli]);
  run('ip', ['-n', ns.cli, 'link', 'set', dev.cli, 'address', HOST_MAC]);
  run('ip', ['-n', ns.srv, 'addr', 'add', `${SERVER_IP}/24`, 'dev', dev.srv]);
  run('ip', ['-n', ns.cli, 'addr', 'add', `${HOST_IP}/24`, 'dev', dev.cli]);
  for (const [name, device] of [[ns.srv, dev.srv], [ns.cli, dev.cli]] as const) run('ip', ['-n', name, 'link', 'set', device, 'up']);
  // udhcpc listens for broadcast replies; they need a route out of the client namespace.
  run('ip', ['-n', ns.cli, 'route', 'add', '255.255.255.255/32', 'dev', dev.cli]);
  run('ip', ['-n', ns.srv, 'route', 'add', '255.255.255.255/32', 'dev', dev.srv]);

  site.write('builds/metal/node20.yaml', `fqdn: node20.example.com\nos: CentOS-7.6.1810\nmac: ${HOST_MAC}\ndevice: eth0\nipaddr: ${HOST_IP}\nnetmask: 255.255.255.0\ngateway: ${SERVER_IP}\nnameserver: ${SERVER_IP}\n`);
  fs.mkdirSync(path.join(site.root, 'pxe'), { recursive: true });
  fs.writeFileSync(path.join(site.root, 'pxe', 'undionly.kpxe'), bootLoader);
  fs.writeFileSync(path.join(site.root, 'udhcpc.sh'), '#!/bin/sh\n[ "$1" = bound ] && env > "$UDHCPC_OUT"\nexit 0\n', { mode: 0o755 });
  await startServer();
});

after(async () => {
  if (server && server.exitCode === null) await stopServer();
  cleanup();
  site.remove();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

/** busybox udhcpc in the client namespace; what the -s script saw on `bound`, or undefined. */
function udhcpc(extra: string[]): Record<string, string> | undefined {
  const out = path.join(site.root, `udhcpc-${randomBytes(3).toString('hex')}.env`);
  spawnSync('ip', ['netns', 'exec', ns.cli, 'env', `UDHCPC_OUT=${out}`, 'busybox', 'udhcpc', '-i', dev.cli, '-f', '-q', '-n', '-t', '3', '-T', '1', '-s', path.join(site.root, 'udhcpc.sh'), ...extra], { timeout: 20_000 });
  if (!fs.existsSync(out)) return undefined;
  return Object.fromEntries(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

const withLog = (message: string): string => `${message}\n--- kickstand log (tail) ---\n${serverLog.split('\n').slice(-30).join('\n')}`;

test('a PXE client gets a proxy offer naming undionly.kpxe and the server; a plain client gets nothing', { skip: missing || false }, () => {
  const pxe = udhcpc(['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x2b:470400000000ff']);
  assert.ok(pxe, withLog('the PXE client got no answer'));
  assert.equal(pxe.siaddr, SERVER_IP);
  assert.equal(pxe.boot_file, 'undionly.kpxe');
  assert.equal(udhcpc([]), undefined, withLog('a plain DHCP client must get nothing from a proxy'));
});

test('TFTP serves the boot loader byte for byte, and refuses writes', { skip: missing || false }, () => {
  const out = path.join(site.root, 'fetched.kpxe');
  const fetched = curl('-o', out, `tftp://${SERVER_IP}/undionly.kpxe`);
  assert.equal(fetched.status, 0, withLog(fetched.stderr));
  assert.ok(fs.readFileSync(out).equals(bootLoader));
  const upload = curl('-T', out, `tftp://${SERVER_IP}/uploaded.kpxe`);
  assert.notEqual(upload.status, 0);
  assert.equal(fs.existsSync(path.join(site.root, 'pxe', 'uploaded.kpxe')), false);
});

test('install, report built from the host, boot locally, survive a restart, reinstall', { skip: missing || false }, async () => {
  const ipxe = () => curl(`http://${SERVER_IP}:8080/ipxe?mac=${HOST_MAC}`).stdout;
  assert.match(ipxe(), new RegExp(`^kernel \\S+ initrd=initrd\\.img inst\\.ks=http://${SERVER_IP.replaceAll('.', '\\.')}:8080/ks\\?build=metal/node20&os=CentOS-7\\.6\\.1810 ip=${HOST_IP.replaceAll('.', '\\.')}::`, 'm'));
  const ks = curl('--fail', `http://${SERVER_IP}:8080/ks?build=metal/node20&os=CentOS-7.6.1810`);
  assert.match(ks.stdout, new RegExp(`^network --device eth0 --bootproto static --ip ${HOST_IP.replaceAll('.', '\\.')} `, 'm'));
  const built = curl('--fail', '-X', 'POST', `http://${SERVER_IP}:8080/built?build=metal/node20`);
  assert.equal(built.status, 0, withLog(built.stderr));
  assert.match(ipxe(), /^exit$/m, 'a built host boots from its disk');

  await stopServer();
  const hosts = kickstand('hosts');
  assert.equal(hosts.status, 0, hosts.stderr);
  assert.match(hosts.stdout, /^metal\/node20\s+02:6b:73:00:00:20\s+CentOS-7\.6\.1810\s+once\s+built\s+\S+\s+\S+ boot-script: ipxe: local \(built \(install: once\)\)$/m);
  const rows = JSON.parse(kickstand('hosts', '--json').stdout) as { id: string; state: string; last_event: string }[];
  assert.deepEqual(rows.filter((host) => host.id === 'metal/node20').map(({ state, last_event }) => ({ state, last_event })), [{ state: 'built', last_event: 'boot-script' }]);

  await startServer();
  assert.match(ipxe(), /^exit$/m, 'state survived the restart');
  const reinstall = kickstand('reinstall', 'node20');
  assert.equal(reinstall.status, 0, reinstall.stderr);
  assert.match(ipxe(), /^kernel /m, 'after reinstall the host installs again');
});

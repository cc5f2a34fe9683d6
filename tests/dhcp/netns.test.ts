// Real clients against the real server, inside network namespaces this test creates and deletes:
//
//   [ns cli] busybox udhcpc -- veth --[ns srv] kickstand DHCP --veth-- [ns oth] udhcpc (other segment)
//                                            default route ----^
//
// Nothing touches the host's interfaces; addresses exist only inside the namespaces. The server's
// default route points at the other segment, so a reply that followed the routing table instead
// of the served interface would show up there (its TX counter is checked).
// Needs root, iproute2 and busybox (apt-get install -y iproute2 busybox); skipped otherwise.

import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { DhcpEvent } from '../../src/dhcp/answer.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const fixture = fileURLToPath(new URL('./fixtures/netns-server.ts', import.meta.url));

function unavailable(): string | false {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  for (const tool of ['ip', 'busybox']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `needs ${tool} (apt-get install -y iproute2 busybox)`;
  }
  return false;
}
const skip = unavailable();

const id = Math.random().toString(16).slice(2, 6);
const ns = { srv: `ks-test-${id}-srv`, cli: `ks-test-${id}-cli`, oth: `ks-test-${id}-oth` };
const dev = { srv: `ks${id}s`, cli: `ks${id}c`, decoy: `ks${id}d`, oth: `ks${id}o` };
const a = 100 + Math.floor(Math.random() * 100);
const b = 2 * Math.floor(Math.random() * 120);
const net = `10.${a}.${b}`;
const otherNet = `10.${a}.${b + 1}`;
const SERVER_IP = `${net}.1`;
const HTTP_BASE = `http://${SERVER_IP}:8080`;
const MAC = { reserved: '02:00:00:5e:00:42', pxe: '02:00:00:5e:00:01', plain: '02:00:00:5e:00:02', late: '02:00:00:5e:00:03' };

let workDir = '';
const children = new Set<ChildProcess>();

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function deleteNamespaces(): void {
  for (const name of Object.values(ns)) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}

// Last resort if the runner dies before after(): never leave namespaces behind.
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL');
  if (!skip) deleteNamespaces();
});

function createTopology(): void {
  for (const name of Object.values(ns)) {
    run('ip', ['netns', 'add', name]);
    // No IPv6: its neighbour discovery would move the TX counters this test reads.
    run('ip', ['netns', 'exec', name, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6']);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }
  run('ip', ['-n', ns.srv, 'link', 'add', dev.srv, 'type', 'veth', 'peer', 'name', dev.cli, 'netns', ns.cli]);
  run('ip', ['-n', ns.srv, 'link', 'add', dev.decoy, 'type', 'veth', 'peer', 'name', dev.oth, 'netns', ns.oth]);
  run('ip', ['-n', ns.srv, 'addr', 'add', `${SERVER_IP}/24`, 'dev', dev.srv]);
  run('ip', ['-n', ns.srv, 'addr', 'add', `${otherNet}.1/24`, 'dev', dev.decoy]);
  run('ip', ['-n', ns.oth, 'addr', 'add', `${otherNet}.2/24`, 'dev', dev.oth]);
  for (const [name, d] of [[ns.srv, dev.srv], [ns.srv, dev.decoy], [ns.cli, dev.cli], [ns.oth, dev.oth]] as const) {
    run('ip', ['-n', name, 'link', 'set', d, 'up']);
  }
  run('ip', ['-n', ns.srv, 'route', 'add', 'default', 'via', `${otherNet}.2`]);
}

function txPackets(namespace: string, device: string): number {
  const [link] = JSON.parse(run('ip', ['-j', '-s', '-n', namespace, 'link', 'show', 'dev', device])) as Array<{ stats64: { tx: { packets: number } } }>;
  return link!.stats64.tx.packets;
}

interface ServerHandle {
  events: DhcpEvent[];
  stderr: () => string;
  stop: () => Promise<void>;
}

async function startServer(config: Record<string, unknown>): Promise<ServerHandle> {
  const child = spawn('ip', ['netns', 'exec', ns.srv, process.execPath, '--import', 'tsx', fixture, JSON.stringify(config)], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  const events: DhcpEvent[] = [];
  let stderr = '';
  let buffered = '';
  child.stderr!.on('data', (d: Buffer) => void (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server not ready in 20 s:\n${stderr}`)), 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before READY:\n${stderr}`));
    });
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString();
      let nl: number;
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (line === 'READY') {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith('{')) events.push(JSON.parse(line) as DhcpEvent);
      }
    });
  });
  return {
    events,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      children.delete(child);
    },
  };
}

interface ClientRun {
  code: number | null;
  bound: Record<string, string> | undefined;
  log: string;
}

/** busybox udhcpc in a namespace; the -s script dumps what it learned into a file. */
async function udhcpc(namespace: string, device: string, mac: string, args: string[]): Promise<ClientRun> {
  run('ip', ['-n', namespace, 'link', 'set', 'dev', device, 'address', mac]);
  const out = join(workDir, `udhcpc-${Math.random().toString(16).slice(2)}.env`);
  const child = spawn('ip', ['netns', 'exec', namespace, 'busybox', 'udhcpc', '-i', device, '-f', '-q', '-n', '-s', join(workDir, 'udhcpc.sh'), ...args], {
    env: { ...process.env, UDHCPC_OUT: out },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let log = '';
  child.stdout!.on('data', (d: Buffer) => void (log += d.toString()));
  child.stderr!.on('data', (d: Buffer) => void (log += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  children.delete(child);
  const text = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const bound = text
    .split(/^event=/m)
    .filter((block) => block.startsWith('bound'))
    .map((block) => Object.fromEntries(block.split('\n').slice(1).filter(Boolean).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])))
    .at(-1);
  return { code, bound, log };
}

const PXE_BIOS = ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '0x5d:0000'];
// Option 43 with a PXE boot item (71): PXE broadcast boot server discovery, which a proxy ACKs.
// udhcpc cannot tell a proxy offer from a real one, so this is how it finishes the exchange.
const BOOT_ITEM = ['-x', '0x2b:470400000000ff'];
const FAST = ['-t', '3', '-T', '1'];
const GIVE_UP_FAST = ['-t', '2', '-T', '1'];

describe('real DHCP clients in network namespaces', { skip }, () => {
  before(() => {
    workDir = mkdtempSync(join(tmpdir(), 'ks-netns-'));
    writeFileSync(
      join(workDir, 'udhcpc.sh'),
      '#!/bin/sh\n{ echo "event=$1"; env | grep -E \'^(ip|siaddr|boot_file|serverid|subnet|router|dns|domain|lease|hostname|vendor|opt[0-9]+)=\'; } >> "$UDHCPC_OUT"\n',
    );
    chmodSync(join(workDir, 'udhcpc.sh'), 0o755);
    createTopology();
  });

  after(async () => {
    for (const child of children) child.kill('SIGKILL');
    deleteNamespaces();
    if (workDir) rmSync(workDir, { recursive: true, force: true });
    const left = run('ip', ['netns', 'list']).split('\n').filter((l) => l.includes(`ks-test-${id}`));
    assert.deepEqual(left, [], 'namespaces removed');
  });

  it('control: an unbound socket broadcasts along the default route (the trap the server avoids)', () => {
    const before = txPackets(ns.srv, dev.decoy);
    run('ip', ['netns', 'exec', ns.srv, process.execPath, '-e',
      "const s=require('dgram').createSocket('udp4');s.bind(0,()=>{s.setBroadcast(true);s.send(Buffer.from('x'),9,'255.255.255.255',()=>s.close())})"]);
    assert.equal(txPackets(ns.srv, dev.decoy), before + 1);
  });

  describe('proxy mode', () => {
    let server: ServerHandle;
    before(async () => {
      server = await startServer({ mode: 'proxy', serverIp: SERVER_IP, interface: dev.srv, httpBaseUrl: HTTP_BASE, hosts: {} });
    });
    after(async () => server?.stop());

    it('PXE BIOS client gets next-server and undionly.kpxe, no address; nothing leaves on the other interface', async () => {
      const decoyBefore = txPackets(ns.srv, dev.decoy);
      const result = await udhcpc(ns.cli, dev.cli, MAC.pxe, [...FAST, ...PXE_BIOS, ...BOOT_ITEM, '-O', '60']);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.siaddr, SERVER_IP);
      assert.equal(result.bound?.boot_file, 'undionly.kpxe');
      assert.equal(result.bound?.serverid, SERVER_IP);
      assert.equal(result.bound?.ip, '0.0.0.0', 'proxyDHCP never assigns an address');
      assert.equal(result.bound?.vendor, 'PXEClient');
      assert.equal(result.bound?.opt43?.slice(0, 6), '060108', 'PXE_DISCOVERY_CONTROL = 8');
      assert.equal(txPackets(ns.srv, dev.decoy), decoyBefore);
      const offer = server.events.find((e) => e.mac === MAC.pxe && e.outcome === 'offer');
      assert.equal(offer?.bootFile, 'undionly.kpxe');
    });

    it('UEFI HTTP boot client gets the URL of ipxe.efi with vendor class HTTPClient', async () => {
      const result = await udhcpc(ns.cli, dev.cli, MAC.pxe, [...FAST, '-V', 'HTTPClient:Arch:00016:UNDI:003001', '-x', '0x5d:0010', ...BOOT_ITEM, '-O', '60']);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.boot_file, `${HTTP_BASE}/ipxe.efi`);
      assert.equal(result.bound?.vendor, 'HTTPClient');
    });

    it('iPXE (user class iPXE) gets boot.ipxe and no option 175', async () => {
      const result = await udhcpc(ns.cli, dev.cli, MAC.pxe, [...FAST, ...PXE_BIOS, '-x', '0x4d:69505845', ...BOOT_ITEM, '-O', '175']);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.boot_file, `${HTTP_BASE}/boot.ipxe`);
      assert.equal(result.bound?.opt175, undefined);
    });

    it('a plain client gets nothing', async () => {
      const result = await udhcpc(ns.cli, dev.cli, MAC.plain, GIVE_UP_FAST);
      assert.notEqual(result.code, 0);
      assert.equal(result.bound, undefined);
      const seen = server.events.filter((e) => e.mac === MAC.plain);
      assert.ok(seen.length > 0, 'the server saw the DISCOVER');
      assert.ok(seen.every((e) => e.outcome === 'silent' && /not-network-boot-client/.test(e.reason ?? '')));
    });

    it('a PXE client on another segment is not answered there', async () => {
      const decoyBefore = txPackets(ns.srv, dev.decoy);
      const result = await udhcpc(ns.oth, dev.oth, MAC.late, [...GIVE_UP_FAST, ...PXE_BIOS, ...BOOT_ITEM]);
      assert.notEqual(result.code, 0);
      assert.equal(result.bound, undefined);
      assert.equal(txPackets(ns.srv, dev.decoy), decoyBefore, 'no reply left on the other interface');
    });
  });

  describe('full mode', () => {
    const config = () => ({
      mode: 'full',
      serverIp: SERVER_IP,
      httpBaseUrl: HTTP_BASE,
      leaseFile: join(workDir, 'leases.db'),
      pool: { start: `${net}.100`, end: `${net}.101`, subnetMask: '255.255.255.0', router: SERVER_IP, dns: [SERVER_IP], domain: 'lab.test' },
      hosts: { [MAC.reserved]: { known: true, loader: 'ipxe', reservation: { ip: `${net}.42`, hostname: 'node42' } } },
    });
    let server: ServerHandle;
    before(async () => {
      server = await startServer(config());
    });
    after(async () => server?.stop());

    it('a plain client with a reservation gets its address and no boot file', async () => {
      const result = await udhcpc(ns.cli, dev.cli, MAC.reserved, FAST);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.ip, `${net}.42`);
      assert.equal(result.bound?.hostname, 'node42');
      assert.equal(result.bound?.subnet, '255.255.255.0');
      assert.equal(result.bound?.router, SERVER_IP);
      assert.equal(result.bound?.domain, 'lab.test');
      assert.equal(result.bound?.boot_file, undefined);
    });

    it('a PXE client without reservation gets a pool address and undionly.kpxe', async () => {
      const result = await udhcpc(ns.cli, dev.cli, MAC.pxe, [...FAST, ...PXE_BIOS]);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.ip, `${net}.100`);
      assert.equal(result.bound?.siaddr, SERVER_IP);
      assert.equal(result.bound?.boot_file, 'undionly.kpxe');
    });

    it('the same machine as iPXE keeps its address, gets boot.ipxe and no-pxedhcp', async () => {
      const result = await udhcpc(ns.cli, dev.cli, MAC.pxe, [...FAST, ...PXE_BIOS, '-x', '0x4d:69505845', '-O', '175']);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.ip, `${net}.100`);
      assert.equal(result.bound?.boot_file, `${HTTP_BASE}/boot.ipxe`);
      assert.equal(result.bound?.opt175, 'b00101');
    });

    it('after a restart the lease file still holds the address: a new client gets the next one', async () => {
      await server.stop();
      server = await startServer(config());
      const result = await udhcpc(ns.cli, dev.cli, MAC.late, FAST);
      assert.equal(result.code, 0, result.log + server.stderr());
      assert.equal(result.bound?.ip, `${net}.101`);
    });
  });
});

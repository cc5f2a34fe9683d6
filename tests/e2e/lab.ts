// The isolated network one e2e run uses, and every process the run starts in it.
//
//   namespace <ns>                                            namespace <ns>-lan
//   kickstand serve (67, 69, 4011, 8080) on br 10.x.y.1/24     dnsmasq: IPv6 router advertisements,
//   bridge br --- tap0 (QEMU's NIC)                            and for the proxyDHCP case plain
//             `-- vlan0 <==veth==> lan0 10.x.y.2/24            DHCPv4 with no boot options
//
// Addresses exist only inside the namespaces. The router advertisements save iPXE its 13-17 s wait
// for an IPv6 router. Everything is removed by cleanup(): the processes this run started, by PID,
// then the namespaces; cleanup() also runs on process exit, SIGINT and SIGTERM.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export interface Proc {
  name: string;
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

const tracked = new Set<ChildProcess>();
const namespaces = new Set<string>();

function killTracked(): void {
  for (const child of tracked) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  tracked.clear();
}

function deleteNamespaces(): void {
  for (const name of namespaces) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  namespaces.clear();
}

/** Last resort when the runner dies before after(): no process, no namespace left behind. */
export function cleanupNow(): void {
  killTracked();
  deleteNamespaces();
}
process.on('exit', cleanupNow);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanupNow();
    process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
  });
}

export function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

export class Lab {
  readonly id = randomBytes(2).toString('hex');
  readonly ns = `kse2e-${this.id}`;
  readonly lanNs = `kse2e-${this.id}-lan`;
  readonly bridge = 'br0';
  readonly tap = 'tap0';
  readonly net: string;
  readonly serverIp: string;
  readonly lanIp: string;
  readonly ipv6Prefix: string;

  constructor(readonly workDir: string) {
    const n = parseInt(this.id, 16);
    this.net = `10.${100 + (n % 100)}.${(n >> 8) % 250}`;
    this.serverIp = `${this.net}.1`;
    this.lanIp = `${this.net}.2`;
    this.ipv6Prefix = `fd6b:7365:${this.id}::`;
  }

  /** Creates the namespaces, bridge, tap and veth, and starts the router advertisements. */
  async setup(): Promise<void> {
    for (const name of [this.ns, this.lanNs]) {
      run('ip', ['netns', 'add', name]);
      namespaces.add(name);
      run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    }
    const ip = (...args: string[]) => run('ip', ['-n', this.ns, ...args]);
    const lan = (...args: string[]) => run('ip', ['-n', this.lanNs, ...args]);
    ip('link', 'add', this.bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    ip('addr', 'add', `${this.serverIp}/24`, 'dev', this.bridge);
    ip('link', 'set', this.bridge, 'up');
    ip('tuntap', 'add', 'dev', this.tap, 'mode', 'tap');
    ip('link', 'set', this.tap, 'master', this.bridge, 'up');
    ip('link', 'add', 'vlan0', 'type', 'veth', 'peer', 'name', 'lan0', 'netns', this.lanNs);
    ip('link', 'set', 'vlan0', 'master', this.bridge, 'up');
    lan('addr', 'add', `${this.lanIp}/24`, 'dev', 'lan0');
    lan('addr', 'add', `${this.ipv6Prefix}2/64`, 'dev', 'lan0', 'nodad');
    lan('link', 'set', 'lan0', 'up');
    // Clients here do not set the broadcast flag: replies go to 255.255.255.255, which needs a route.
    ip('route', 'add', '255.255.255.255/32', 'dev', this.bridge);
    lan('route', 'add', '255.255.255.255/32', 'dev', 'lan0');
    const ra = this.spawn('dnsmasq-ra', this.lanNs, 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', '--log-facility=-', `--pid-file=${path.join(this.workDir, 'dnsmasq-ra.pid')}`,
      '--interface=lan0', '--bind-interfaces', '--enable-ra', `--dhcp-range=${this.ipv6Prefix},ra-only,64`,
      `--dhcp-leasefile=${path.join(this.workDir, 'dnsmasq-ra.leases')}`,
    ]);
    await sleep(200);
    if (ra.child.exitCode !== null) throw new Error(`dnsmasq (router advertisements) exited:\n${ra.output}`);
  }

  /** Starts a tracked process inside a namespace (ip netns exec replaces itself: the PID is the process's). */
  spawn(name: string, ns: string, cmd: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): Proc {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: options.env ?? process.env });
    tracked.add(child);
    const proc: Proc = {
      name,
      child,
      output: '',
      exited: new Promise((resolve) => child.once('exit', (code) => {
        tracked.delete(child);
        resolve(code);
      })),
    };
    child.stdout!.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (proc.output += chunk.toString()));
    return proc;
  }

  /** SIGTERM, then SIGKILL after graceMs; resolves once the process is gone. */
  async stop(proc: Proc, graceMs = 5000): Promise<void> {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) return;
    proc.child.kill('SIGTERM');
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), graceMs);
    await proc.exited;
    clearTimeout(timer);
  }

  /** A plain DHCPv4 server on the LAN side (no boot options), standing in for a site's own DHCP. */
  startPlainDhcp(): Proc {
    return this.spawn('dnsmasq-dhcp', this.lanNs, 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', '--log-facility=-', '--log-dhcp', `--pid-file=${path.join(this.workDir, 'dnsmasq-dhcp.pid')}`,
      '--interface=lan0', '--bind-interfaces', '--no-ping', `--dhcp-range=${this.net}.50,${this.net}.99,255.255.255.0,10m`,
      `--dhcp-option=option:router,${this.serverIp}`, `--dhcp-leasefile=${path.join(this.workDir, 'dnsmasq-dhcp.leases')}`,
    ]);
  }

  /**
   * The site's own DHCP server handing out kickstand as next-server and boot file (`--dhcp off`),
   * as ISC dhcpd or Infoblox would: `bootServerIp` is the TFTP server, iPXE gets the boot script URL.
   */
  startSiteDhcp(bootServerIp: string, bootScriptUrl: string): Proc {
    return this.spawn('dnsmasq-site-dhcp', this.lanNs, 'dnsmasq', [
      '--no-daemon', '--conf-file=/dev/null', '--port=0', '--log-facility=-', '--log-dhcp', `--pid-file=${path.join(this.workDir, 'dnsmasq-site-dhcp.pid')}`,
      '--interface=lan0', '--bind-interfaces', '--no-ping', `--dhcp-range=${this.net}.50,${this.net}.99,255.255.255.0,10m`,
      `--dhcp-option=option:router,${this.serverIp}`, `--dhcp-leasefile=${path.join(this.workDir, 'dnsmasq-site-dhcp.leases')}`,
      '--dhcp-userclass=set:ipxe,iPXE', `--dhcp-boot=tag:!ipxe,ipxe.efi,kickstand,${bootServerIp}`, `--dhcp-boot=tag:ipxe,${bootScriptUrl}`,
    ]);
  }

  /** One more address on kickstand's interface, as a second address or a keepalived VIP would be. */
  addServerAddress(address: string): void {
    run('ip', ['-n', this.ns, 'addr', 'add', `${address}/24`, 'dev', this.bridge]);
  }

  cleanup(): void {
    cleanupNow();
  }
}

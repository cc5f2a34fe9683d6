import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DhcpEvent } from '../dhcp/answer.js';
import type { HostLookup } from '../dhcp/host-lookup.js';
import { findHost, type HostRecord } from '../definitions/hosts.js';
import { resolveBuild } from '../definitions/resolve.js';
import type { DefinitionStore } from '../definitions/store.js';
import { normaliseMac } from '../definitions/schema.js';
import { ForbiddenError, NotFoundError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TemplateEngine } from '../render/templates.js';
import { renderWithContext } from '../render/kickstart.js';
import { planBoot, type BootPlan } from './plan.js';
import type { HostState, StateStore } from './state.js';

/** Optional: the iPXE script for machines no host file names. */
const UNKNOWN_MACHINE_TEMPLATE = 'boot/unknown.ipxe.njk';

export interface HostStatus extends HostState {
  id: string;
  name: string;
  macs: string[];
  os: string | null;
  install: HostRecord['install'];
  loader: HostRecord['loader'];
  ipaddr: string | null;
}

/**
 * The network-boot core: which host a MAC or UUID is, what it boots, and its
 * build state. Transports (DHCP, TFTP, HTTP) call it; it never sees a socket.
 */
export class BootService {
  /** Addresses seen for hosts (DHCP, /ipxe, TFTP configs, kickstarts), to attribute TFTP transfers. */
  private readonly addressOwners = new Map<string, string>();
  /**
   * Addresses full-mode DHCP leased to hosts: one of the addresses /built is accepted from. A boot
   * script or config fetch is not: anyone can ask for /ipxe?mac=<any MAC>.
   */
  private readonly leaseOwners = new Map<string, string>();
  private readonly secret: Buffer;

  constructor(
    private readonly store: DefinitionStore,
    readonly state: StateStore,
    private readonly engine: TemplateEngine,
    private readonly log: Logger,
    dataDir: string,
  ) {
    this.secret = loadOrCreateSecret(path.join(dataDir, 'host-token.key'));
  }

  private get hosts() {
    return this.store.current.hosts;
  }

  host(name: string): HostRecord {
    const host = findHost(this.hosts, name);
    if (!host) throw new NotFoundError(`unknown host '${name}': no host definition names it (hosts are builds with a mac or uuid)`);
    return host;
  }

  hostByMacOrUuid(mac: string | undefined, uuid: string | undefined): HostRecord | undefined {
    const normalised = mac ? normaliseMac(mac) : undefined;
    return (normalised && this.hosts.byMac.get(normalised)) || (uuid ? this.hosts.byUuid.get(uuid.toLowerCase()) : undefined);
  }

  /** What the DHCP responders may know of a machine: loader and, for full mode, its reservation. */
  dhcpLookup = (mac: string, uuid: string | undefined): HostLookup | undefined => {
    const host = this.hostByMacOrUuid(mac, uuid);
    if (!host) return undefined;
    // Only the host that owns the address (two files may claim it) has it reserved.
    const reservation = host.ipaddr && this.hosts.byIp.get(host.ipaddr)?.id === host.id
      ? {
          ip: host.ipaddr,
          subnetMask: host.netmask || undefined,
          router: host.gateway || undefined,
          dns: host.nameserver ? host.nameserver.split(',').filter(Boolean) : undefined,
          hostname: host.hostname || undefined,
          domain: host.fqdn?.includes('.') ? host.fqdn.slice(host.fqdn.indexOf('.') + 1) : undefined,
        }
      : undefined;
    return { known: true, loader: host.loader, reservation };
  };

  /** The MACs of the host an address is reserved for, so the pool never hands it to another machine. */
  reservedMacsFor = (ip: string): readonly string[] | undefined => this.hosts.byIp.get(ip)?.macs;

  dhcpEvent(event: DhcpEvent): void {
    const host = this.hostByMacOrUuid(event.mac, event.uuid);
    // An address acknowledged to a machine is its lease until acknowledged to another one.
    if (event.ip && event.outcome === 'ack') {
      if (host) this.leaseOwners.set(event.ip, host.id);
      else this.leaseOwners.delete(event.ip);
    }
    if (!host || event.outcome === 'silent') return;
    if (event.ip) this.addressOwners.set(event.ip, host.id);
    this.state.record(host.id, 'dhcp', `${event.request} -> ${event.outcome}${event.bootFile ? ` ${event.bootFile}` : ''}`, event.ip);
  }

  /** The plan for a host's next network boot, from its definition and build state. */
  plan(host: HostRecord, serverUrl: string): BootPlan {
    const resolved = resolveBuild(this.store.current, { type: host.type, name: host.name });
    return planBoot(host, this.state.get(host.id).state, resolved, serverUrl);
  }

  /** GET /ipxe: the host's own iPXE script; 404 for a machine no definition names. */
  ipxeScript(facts: { mac?: string; uuid?: string; arch?: string }, serverUrl: string, clientIp: string): string {
    const host = this.hostByMacOrUuid(facts.mac, facts.uuid);
    if (!host) return this.unknownMachineScript(facts, serverUrl);
    const plan = this.plan(host, serverUrl);
    this.addressOwners.set(clientIp, host.id);
    this.state.record(host.id, 'boot-script', `ipxe: ${plan.action} (${plan.reason})`, clientIp);
    return renderWithContext(this.engine, 'boot/ipxe.njk', { host, plan, server: { url: serverUrl } }, host.id);
  }

  /**
   * A machine no host file names: the site's own answer when views/boot/unknown.ipxe.njk exists
   * (a menu, a discovery image, local boot with a message), else 404, which boot.ipxe turns into
   * a local boot.
   */
  private unknownMachineScript(facts: { mac?: string; uuid?: string; arch?: string }, serverUrl: string): string {
    if (!fs.existsSync(path.join(this.engine.viewsDir, UNKNOWN_MACHINE_TEMPLATE))) {
      throw new NotFoundError(`no host definition for mac ${facts.mac ?? '-'} uuid ${facts.uuid ?? '-'} (views/${UNKNOWN_MACHINE_TEMPLATE} would answer it)`);
    }
    const machine = { mac: facts.mac ?? null, uuid: facts.uuid ?? null, arch: facts.arch ?? null };
    return renderWithContext(this.engine, UNKNOWN_MACHINE_TEMPLATE, { machine, server: { url: serverUrl } }, 'the unknown-machine script');
  }

  bootIpxe(serverUrl: string): string {
    return renderWithContext(this.engine, 'boot/boot.ipxe.njk', { server: { url: serverUrl } }, 'boot.ipxe');
  }

  /**
   * Per-host pxelinux and GRUB configs, generated in memory for TFTP:
   * `pxelinux.cfg/01-<mac>`, `pxelinux.cfg/default`, `grub/grub.cfg-01-<mac>`, `grub/grub.cfg`.
   * Undefined for every other path (served from pxe/ on disk).
   */
  tftpFile(file: string, serverUrl: string, peerIp: string): string | undefined {
    const match = /^(pxelinux\.cfg\/(?:01-([0-9a-f-]{17})|default)|grub\/grub\.cfg(?:-01-([0-9a-f-]{17}))?)$/i.exec(file);
    if (!match) return undefined;
    const template = file.startsWith('pxelinux') ? 'boot/pxelinux.njk' : 'boot/grub.njk';
    const mac = match[2] ?? match[3];
    const host = mac ? this.hostByMacOrUuid(mac, undefined) : undefined;
    if (mac && !host) return undefined; // firmware then asks for the next name, ending at the default
    const plan: BootPlan = host ? this.plan(host, serverUrl) : { action: 'local', reason: 'no host definition for this machine' };
    if (host) {
      this.addressOwners.set(peerIp, host.id);
      this.state.record(host.id, 'boot-script', `${file}: ${plan.action} (${plan.reason})`, peerIp);
    }
    return renderWithContext(this.engine, template, { host, plan, server: { url: serverUrl } }, file);
  }

  /** A TFTP transfer ended; attributed to a host when its address is known. */
  tftpServed(file: string, peerIp: string, bytes: number, ok: boolean): void {
    const hostId = this.addressOwners.get(peerIp) ?? this.hosts.byIp.get(peerIp)?.id;
    if (hostId) this.state.record(hostId, 'tftp', `${file} ${ok ? `${bytes} bytes` : 'failed'}`, peerIp);
  }

  /** /ks served a host's kickstart: it is installing now. */
  kickstartServed(buildId: string, clientIp: string, url: string): void {
    const host = this.hosts.byId.get(buildId);
    if (!host) return;
    this.addressOwners.set(clientIp, host.id);
    this.state.kickstartServed(host.id, clientIp, url, host.install === 'always');
  }

  /**
   * POST /built: accepted from the host's own address (its ipaddr, its DHCP
   * lease, the address that fetched the kickstart of the install under way) or
   * with its token; otherwise 403, so nobody else can stop a host from
   * reinstalling or mark one built.
   */
  markBuilt(buildId: string, clientIp: string, token: string | undefined): void {
    const host = this.hosts.byId.get(buildId);
    if (!host) throw new NotFoundError(`unknown host '${buildId}'`);
    const state = this.state.get(host.id);
    const fromHost = clientIp === host.ipaddr || clientIp === state.kickstart_ip || this.leaseOwners.get(clientIp) === host.id;
    if (!fromHost && !(token && this.tokenMatches(host.id, token))) {
      throw new ForbiddenError(`/built for ${host.id} refused from ${clientIp}: not the host's address; pass its token (kickstand hosts --tokens)`);
    }
    this.state.markBuilt(host.id, clientIp, fromHost ? 'from the host' : 'with the host token');
    this.log.info({ host: host.id, ip: clientIp }, 'host built');
  }

  reinstall(name: string, who: string): HostRecord {
    const host = this.host(name);
    this.state.reinstall(host.id, `requested by ${who}`);
    this.log.info({ host: host.id, who }, 'host set to reinstall');
    return host;
  }

  status(host: HostRecord): HostStatus {
    return {
      ...this.state.get(host.id),
      id: host.id,
      name: host.name,
      macs: host.macs,
      os: host.os ?? null,
      install: host.install,
      loader: host.loader,
      ipaddr: host.ipaddr || null,
    };
  }

  statuses(): HostStatus[] {
    return [...this.hosts.byId.values()].sort((a, b) => a.id.localeCompare(b.id)).map((host) => this.status(host));
  }

  /** A per-host secret for /built from an address kickstand cannot tie to the host (NAT, relays). */
  token(hostId: string): string {
    return createHmac('sha256', this.secret).update(hostId).digest('hex').slice(0, 32);
  }

  private tokenMatches(hostId: string, token: string): boolean {
    const expected = Buffer.from(this.token(hostId));
    const given = Buffer.from(token);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

/** Shorter keys make host tokens guessable. */
const MIN_SECRET_BYTES = 16;

function loadOrCreateSecret(file: string): Buffer {
  let existing: Buffer | undefined;
  try {
    existing = fs.readFileSync(file);
  } catch {
    existing = undefined;
  }
  if (existing !== undefined) {
    if (existing.length < MIN_SECRET_BYTES) throw new Error(`${file} holds ${existing.length} bytes, too short for host tokens (at least ${MIN_SECRET_BYTES}); delete it and kickstand creates a new one (host tokens change)`);
    return existing;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const secret = randomBytes(32);
  try {
    fs.writeFileSync(file, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch {
    return fs.readFileSync(file); // another process created it first
  }
}


// Full DHCP server (RFC 2131 4.3): addresses from reservations (host definitions) and an optional
// pool, leases kept in a LeaseStore, plus the same boot answers as proxy mode.
// Leases are keyed by MAC, not option 61: PXE ROM, iPXE and the installed OS each send a different
// client identifier for the same machine, and a provisioning server wants one address per machine.

import { decideBoot, type BootDecision, type BootServer } from '../boot/policy.js';
import type { DhcpAnswer, DhcpEvent } from './answer.js';
import { BOOTREQUEST, clientMac, FLAG_BROADCAST, type DhcpPacket } from './codec.js';
import { replyDestination, type DhcpPorts } from './destination.js';
import type { HostLookup, LookupHost, Reservation } from './host-lookup.js';
import { broadcastOf, contains, intToIp, type Subnet, ZERO_ADDRESS } from './ipv4.js';
import type { LeaseStore } from './lease-store.js';
import { encode, IpxeSubOpt, MessageType, messageTypeName, Opt, read } from './options.js';
import { poolAddresses, poolHolds, type PoolConfig } from './pool.js';
import { addBootOptions, newReply } from './reply.js';
import { bootFacts, type IncomingRequest } from './request.js';

export interface FullConfig {
  boot: BootServer;
  /** Subnet of the interface kickstand serves directly (its own address and mask). */
  localSubnet: Subnet;
  pool?: PoolConfig | undefined;
  /** Lease time for reserved addresses on subnets without a pool. */
  leaseSeconds: number;
  /** How long an offered address is kept for the client before others may get it. */
  offerHoldSeconds: number;
  /** How long an address a client declined (found in use) stays out of service. */
  declineHoldSeconds: number;
  ports: DhcpPorts;
}

export const FULL_DEFAULTS = { leaseSeconds: 3600, offerHoldSeconds: 60, declineHoldSeconds: 600 } as const;

export interface FullDeps {
  lookupHost: LookupHost;
  leases: LeaseStore;
  /** Milliseconds since the epoch; injected so tests can move time. */
  now: () => number;
  /**
   * The MACs of the host an address is reserved for, if any: keeps the pool off other hosts'
   * reservations, and lets any NIC of that host have it.
   */
  reservedMacsFor?: ((ip: string) => readonly string[] | undefined) | undefined;
}

/** The client's network: the served interface's subnet, or the one a relay (giaddr) sits on. */
interface Segment {
  subnet: Subnet;
  pool: PoolConfig | undefined;
}

type Level = 'debug' | 'info' | 'warn';

interface Ctx {
  request: IncomingRequest;
  packet: DhcpPacket;
  config: FullConfig;
  deps: FullDeps;
  now: number;
  mac: string;
  host: HostLookup | undefined;
  reservation: Reservation | undefined;
  event: DhcpEvent;
}

export function answerFull(request: IncomingRequest, config: FullConfig, deps: FullDeps): DhcpAnswer {
  const { packet } = request;
  const messageType = read.messageType(packet.options);
  const facts = bootFacts(packet);
  const host = deps.lookupHost(facts.mac, facts.uuid);
  const ctx: Ctx = {
    request,
    packet,
    config,
    deps,
    now: deps.now(),
    mac: clientMac(packet),
    host,
    reservation: host?.reservation,
    event: {
      mode: 'full',
      mac: facts.mac,
      uuid: facts.uuid,
      xid: packet.xid,
      request: messageTypeName(messageType),
      outcome: 'silent',
    },
  };

  if (packet.op !== BOOTREQUEST) return silent(ctx, 'not a BOOTREQUEST');
  if (request.receivedOn !== 'dhcp') return silent(ctx, 'full mode does not serve the PXE port');
  if (ctx.mac === '') return silent(ctx, 'no client hardware address');

  switch (messageType) {
    case MessageType.Discover:
      return discover(ctx);
    case MessageType.Request:
      return requestMessage(ctx);
    case MessageType.Decline:
      return decline(ctx);
    case MessageType.Release:
      return release(ctx);
    case MessageType.Inform:
      return inform(ctx);
    default:
      return silent(ctx, `${messageTypeName(messageType)} is not a client message`);
  }
}

// ---- message handlers --------------------------------------------------------------------------

function discover(ctx: Ctx): DhcpAnswer {
  const segment = segmentFor(ctx);
  if (segment === undefined) return silent(ctx, `relay ${ctx.packet.giaddr} is on a subnet with no pool or reservation`, 'info');
  const choice = chooseAddress(ctx, segment);
  if ('reason' in choice) return silent(ctx, choice.reason, choice.level);

  const existing = ctx.deps.leases.byMac(ctx.mac);
  const alreadyBound =
    existing !== undefined && existing.ip === choice.ip && existing.state === 'bound' && existing.expiresAt > ctx.now;
  if (!alreadyBound) {
    ctx.deps.leases.put({
      ip: choice.ip,
      mac: ctx.mac,
      state: 'offered',
      expiresAt: ctx.now + ctx.config.offerHoldSeconds * 1000,
      updatedAt: ctx.now,
    });
  }
  return leaseReply(ctx, MessageType.Offer, choice.ip, segment);
}

function requestMessage(ctx: Ctx): DhcpAnswer {
  const { packet, config } = ctx;
  const serverId = read.serverId(packet.options);
  const requested = read.requestedIp(packet.options);

  if (serverId !== undefined) {
    // SELECTING: the client picked one server's offer.
    if (serverId !== config.boot.serverIp) {
      const pending = ctx.deps.leases.byMac(ctx.mac);
      if (pending?.state === 'offered') ctx.deps.leases.remove(pending.ip);
      return silent(ctx, `client selected server ${serverId}`);
    }
    const ip = requested ?? (packet.ciaddr !== ZERO_ADDRESS ? packet.ciaddr : undefined);
    if (ip === undefined) return nak(ctx, 'REQUEST names this server but no address');
    return bindIfValid(ctx, ip, segmentFor(ctx), true);
  }

  if (requested !== undefined && packet.ciaddr === ZERO_ADDRESS) {
    // INIT-REBOOT: the client wants to keep an address it remembers.
    const segment = segmentFor(ctx);
    if (segment === undefined) return silent(ctx, `relay ${packet.giaddr} is on a subnet kickstand does not serve`, 'info');
    if (!contains(segment.subnet, requested)) return nak(ctx, `${requested} is not on this network`);
    const lease = ctx.deps.leases.byMac(ctx.mac);
    const hasRecord = ctx.reservation !== undefined || (lease !== undefined && lease.state !== 'declined');
    // RFC 2131 4.3.2: with no record of the client, stay silent; another server may own it.
    if (!hasRecord) return silent(ctx, `no record of ${ctx.mac} for INIT-REBOOT of ${requested}`);
    // The client remembers another address than the one it holds here: NAK, so it starts over.
    if (lease?.state === 'bound' && lease.expiresAt > ctx.now && lease.ip !== requested) return nak(ctx, `${ctx.mac} holds ${lease.ip}, not ${requested}`);
    return bindIfValid(ctx, requested, segment, true);
  }

  if (packet.ciaddr !== ZERO_ADDRESS) {
    // RENEWING (unicast to us) or REBINDING (broadcast to anyone).
    const ip = packet.ciaddr;
    // A relay forwards the client's broadcasts as unicast: only a request without giaddr was sent to us.
    const renewing = ctx.request.unicast && packet.giaddr === ZERO_ADDRESS;
    const lease = ctx.deps.leases.byMac(ctx.mac);
    const hasRecord =
      ctx.reservation?.ip === ip || (lease !== undefined && lease.ip === ip && (lease.state === 'bound' || lease.state === 'offered'));
    if (!hasRecord) {
      return renewing
        ? nak(ctx, `no lease of ${ip} for ${ctx.mac}`)
        : silent(ctx, `rebinding ${ip}: no lease here, another server may hold it`);
    }
    return bindIfValid(ctx, ip, segmentFor(ctx), renewing);
  }

  return silent(ctx, 'REQUEST with no server id, requested address or ciaddr');
}

function decline(ctx: Ctx): DhcpAnswer {
  const serverId = read.serverId(ctx.packet.options);
  if (serverId !== undefined && serverId !== ctx.config.boot.serverIp) return silent(ctx, `DECLINE is for server ${serverId}`);
  const ip = read.requestedIp(ctx.packet.options);
  if (ip === undefined) return silent(ctx, 'DECLINE without a requested address');
  const lease = ctx.deps.leases.byIp(ip);
  const ours = (lease !== undefined && lease.mac === ctx.mac) || ctx.reservation?.ip === ip;
  if (!ours) return silent(ctx, `DECLINE of ${ip}, which kickstand did not give to ${ctx.mac}`);
  // The address answered an ARP probe: something else uses it. Keep it out of service for a while.
  ctx.deps.leases.put({
    ip,
    mac: '',
    state: 'declined',
    expiresAt: ctx.now + ctx.config.declineHoldSeconds * 1000,
    updatedAt: ctx.now,
  });
  return silent(ctx, `${ctx.mac} declined ${ip} (address in use on the network); held back for ${ctx.config.declineHoldSeconds} s`, 'warn');
}

function release(ctx: Ctx): DhcpAnswer {
  const serverId = read.serverId(ctx.packet.options);
  if (serverId !== undefined && serverId !== ctx.config.boot.serverIp) return silent(ctx, `RELEASE is for server ${serverId}`);
  const ip = ctx.packet.ciaddr;
  const lease = ctx.deps.leases.byIp(ip);
  if (lease === undefined || lease.mac !== ctx.mac) return silent(ctx, `RELEASE of ${ip}, which is not leased to ${ctx.mac}`);
  // Keep the row, expired, so the same machine gets the same address next time if it is free.
  ctx.deps.leases.put({ ...lease, state: 'released', expiresAt: ctx.now, updatedAt: ctx.now });
  return silent(ctx, `${ctx.mac} released ${ip}`, 'info');
}

function inform(ctx: Ctx): DhcpAnswer {
  const ip = ctx.packet.ciaddr;
  if (ip === ZERO_ADDRESS) return silent(ctx, 'INFORM without ciaddr');
  const segment = segmentFor(ctx);
  if (segment === undefined || !contains(segment.subnet, ip)) return silent(ctx, `INFORM from ${ip}, a subnet kickstand does not serve`, 'info');
  // RFC 2131 3.4: configuration only; no yiaddr and no lease time.
  const reply = newReply(ctx.packet, MessageType.Ack, ctx.config.boot.serverIp);
  reply.ciaddr = ip;
  return configuredReply(ctx, reply, MessageType.Ack, ip, segment);
}

// ---- addresses ---------------------------------------------------------------------------------

function segmentFor(ctx: Ctx): Segment | undefined {
  const { config, packet, reservation } = ctx;
  const withPool = (subnet: Subnet): Segment => ({
    subnet,
    pool: config.pool !== undefined && contains(subnet, config.pool.start) ? config.pool : undefined,
  });
  // A relayed request comes from the relay's subnet; a unicast renewal may come from a routed one.
  const anchor =
    packet.giaddr !== ZERO_ADDRESS
      ? packet.giaddr
      : packet.ciaddr !== ZERO_ADDRESS && !contains(config.localSubnet, packet.ciaddr)
        ? packet.ciaddr
        : undefined;
  if (anchor === undefined) return withPool(config.localSubnet);
  if (config.pool !== undefined) {
    const poolNet = { address: config.pool.start, mask: config.pool.subnetMask };
    if (contains(poolNet, anchor)) return { subnet: poolNet, pool: config.pool };
  }
  if (contains(config.localSubnet, anchor)) return withPool(config.localSubnet);
  if (reservation?.subnetMask !== undefined) {
    const reserved = { address: reservation.ip, mask: reservation.subnetMask };
    if (contains(reserved, anchor)) return { subnet: reserved, pool: undefined };
  }
  return undefined;
}

/** Why an address someone else holds cannot go to this client, or undefined when it can. */
function heldElsewhere(ctx: Ctx, ip: string): string | undefined {
  const owners = ctx.deps.reservedMacsFor?.(ip);
  // The client's own reservation (found by any of its host's MACs, or by UUID).
  const ownReservation = ctx.reservation?.ip === ip;
  const lease = ctx.deps.leases.byIp(ip);
  if (lease !== undefined && lease.expiresAt > ctx.now) {
    if (lease.state === 'declined') return `${ip} was declined as in use; held back until ${new Date(lease.expiresAt).toISOString()}`;
    // An offer to another listed NIC of the same host may move (the machine boots from this one
    // now); a bound lease may not: two NICs up at once would take the address from each other,
    // and a machine matched only by UUID (which boards can share) never takes one.
    const siblingOffer = lease.state === 'offered' && ownReservation && owners?.includes(ctx.mac) === true && owners.includes(lease.mac);
    if (lease.mac !== ctx.mac && (lease.state === 'bound' || lease.state === 'offered') && !siblingOffer) return `${ip} is leased to ${lease.mac}`;
  }
  if (!ownReservation && owners !== undefined && !owners.includes(ctx.mac)) return `${ip} is reserved for ${owners.join(', ')}`;
  return undefined;
}

/** Why this client may not have ip on this segment, or undefined when it may. */
function refusal(ctx: Ctx, ip: string, segment: Segment): string | undefined {
  if (!contains(segment.subnet, ip)) return `${ip} is not on the client's network ${segment.subnet.address}/${segment.subnet.mask}`;
  if (ip === ctx.config.boot.serverIp) return `${ip} is the server's own address`;
  if (ctx.reservation !== undefined) {
    if (ip !== ctx.reservation.ip) return `${ctx.mac} is reserved ${ctx.reservation.ip}, not ${ip}`;
  } else if (segment.pool === undefined || !poolHolds(segment.pool, ip)) {
    return `${ip} is neither in the pool nor reserved for ${ctx.mac}`;
  }
  return heldElsewhere(ctx, ip);
}

function chooseAddress(ctx: Ctx, segment: Segment): { ip: string } | { reason: string; level: Level } {
  if (ctx.reservation !== undefined) {
    const why = refusal(ctx, ctx.reservation.ip, segment);
    return why === undefined ? { ip: ctx.reservation.ip } : { reason: `reserved address unusable: ${why}`, level: 'warn' };
  }
  const pool = segment.pool;
  if (pool === undefined) return { reason: `no reservation for ${ctx.mac} and no pool on this network`, level: 'info' };

  // Same machine, same address: its previous lease, then the address it asks for.
  const previous = ctx.deps.leases.byMac(ctx.mac);
  if (previous !== undefined && refusal(ctx, previous.ip, segment) === undefined) return { ip: previous.ip };
  const requested = read.requestedIp(ctx.packet.options);
  if (requested !== undefined && refusal(ctx, requested, segment) === undefined) return { ip: requested };

  // First never-used address; else the one that expired longest ago. One pass, bounded by the pool.
  const rows = new Map(ctx.deps.leases.inRange(pool.start, pool.end).map((l) => [l.ip, l]));
  let oldestExpired: { ip: string; expiresAt: number } | undefined;
  for (const ip of poolAddresses(pool)) {
    if (ip === ctx.config.boot.serverIp) continue;
    const row = rows.get(ip);
    if (row !== undefined && row.expiresAt > ctx.now) continue;
    const owners = ctx.deps.reservedMacsFor?.(ip);
    if (owners !== undefined && !owners.includes(ctx.mac)) continue;
    if (row === undefined) return { ip };
    if (oldestExpired === undefined || row.expiresAt < oldestExpired.expiresAt) oldestExpired = { ip, expiresAt: row.expiresAt };
  }
  if (oldestExpired !== undefined) return { ip: oldestExpired.ip };
  return { reason: `pool ${pool.start}-${pool.end} is exhausted; no address for ${ctx.mac}`, level: 'warn' };
}

function bindIfValid(ctx: Ctx, ip: string, segment: Segment | undefined, nakIfInvalid: boolean): DhcpAnswer {
  if (segment === undefined) return silent(ctx, `no network kickstand serves holds ${ip} (giaddr ${ctx.packet.giaddr})`, 'info');
  const why = refusal(ctx, ip, segment);
  if (why !== undefined) return nakIfInvalid ? nak(ctx, why) : silent(ctx, why);
  const leaseSeconds = segment.pool?.leaseSeconds ?? ctx.config.leaseSeconds;
  ctx.deps.leases.put({
    ip,
    mac: ctx.mac,
    state: 'bound',
    expiresAt: ctx.now + leaseSeconds * 1000,
    hostname: read.hostName(ctx.packet.options),
    updatedAt: ctx.now,
  });
  return leaseReply(ctx, MessageType.Ack, ip, segment);
}

// ---- replies -----------------------------------------------------------------------------------

type LeaseReplyType = typeof MessageType.Offer | typeof MessageType.Ack;

function leaseReply(ctx: Ctx, type: LeaseReplyType, ip: string, segment: Segment): DhcpAnswer {
  const reply = newReply(ctx.packet, type, ctx.config.boot.serverIp);
  reply.yiaddr = ip;
  if (type === MessageType.Ack) reply.ciaddr = ctx.packet.ciaddr;
  const leaseSeconds = segment.pool?.leaseSeconds ?? ctx.config.leaseSeconds;
  reply.options.set(Opt.LeaseTime, encode.u32(leaseSeconds));
  reply.options.set(Opt.RenewalTime, encode.u32(Math.floor(leaseSeconds / 2)));
  reply.options.set(Opt.RebindingTime, encode.u32(Math.floor((leaseSeconds * 7) / 8)));
  return configuredReply(ctx, reply, type, ip, segment);
}

/** Adds the network and boot options for `ip` to an OFFER or ACK (lease or INFORM) and addresses it. */
function configuredReply(ctx: Ctx, reply: DhcpPacket, type: LeaseReplyType, ip: string, segment: Segment): DhcpAnswer {
  addNetworkOptions(reply, ip, segment, ctx.reservation);
  const decision = bootDecision(ctx);
  addBoot(reply, decision, ctx.packet);
  return {
    action: 'reply',
    reply,
    destination: replyDestination(ctx.request, type, ctx.config.ports),
    event: { ...ctx.event, outcome: type === MessageType.Offer ? 'offer' : 'ack', ip, ...bootFileOf(decision) },
  };
}

function addNetworkOptions(reply: DhcpPacket, ip: string, segment: Segment, reservation: Reservation | undefined): void {
  const mask = reservation?.subnetMask ?? segment.subnet.mask;
  reply.options.set(Opt.SubnetMask, encode.ip(mask));
  const router = reservation?.router ?? segment.pool?.router;
  if (router !== undefined) reply.options.set(Opt.Router, encode.ip(router));
  const dns = reservation?.dns ?? segment.pool?.dns ?? [];
  if (dns.length > 0) reply.options.set(Opt.DomainServer, encode.ipList(dns));
  const domain = reservation?.domain ?? segment.pool?.domain;
  if (domain !== undefined) reply.options.set(Opt.DomainName, encode.text(domain));
  if (reservation?.hostname !== undefined) reply.options.set(Opt.HostName, encode.text(reservation.hostname));
  reply.options.set(Opt.BroadcastAddress, encode.ip(intToIp(broadcastOf(ip, mask))));
}

function bootDecision(ctx: Ctx): BootDecision {
  return decideBoot(bootFacts(ctx.packet), ctx.host, ctx.config.boot);
}

/** A client that is not a network-boot client still gets its address, just no boot file. */
function addBoot(reply: DhcpPacket, decision: BootDecision, request: DhcpPacket): void {
  if (decision.action !== 'boot') return;
  addBootOptions(reply, decision, request);
  // We are the only DHCP server: iPXE need not wait for a proxyDHCP answer.
  if (decision.client === 'ipxe') {
    reply.options.set(Opt.Ipxe, encode.subOptions([[IpxeSubOpt.NoPxeDhcp, encode.u8(1)]], false));
  }
}

function bootFileOf(decision: BootDecision): { bootFile?: string } {
  return decision.action === 'boot' ? { bootFile: decision.bootFile } : {};
}

function nak(ctx: Ctx, reason: string): DhcpAnswer {
  const reply = newReply(ctx.packet, MessageType.Nak, ctx.config.boot.serverIp);
  reply.options.set(Opt.Message, encode.text(reason.slice(0, 255)));
  // RFC 2131 4.3.2: a relayed NAK asks the relay to broadcast it on the client's segment.
  if (ctx.packet.giaddr !== ZERO_ADDRESS) reply.flags |= FLAG_BROADCAST;
  return {
    action: 'reply',
    reply,
    destination: replyDestination(ctx.request, MessageType.Nak, ctx.config.ports),
    event: { ...ctx.event, outcome: 'nak', reason },
  };
}

function silent(ctx: Ctx, reason: string, level: Level = 'debug'): DhcpAnswer {
  return { action: 'silent', reason, level, event: { ...ctx.event, reason } };
}

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { answerFull, FULL_DEFAULTS, type FullConfig, type FullDeps } from '../../src/dhcp/full.js';
import type { HostLookup } from '../../src/dhcp/host-lookup.js';
import { openLeaseStore, type LeaseStore } from '../../src/dhcp/lease-store.js';
import { MessageType, Opt, read } from '../../src/dhcp/options.js';
import { PoolConfigSchema } from '../../src/dhcp/pool.js';
import type { IncomingRequest } from '../../src/dhcp/request.js';
import type { DhcpAnswer } from '../../src/dhcp/answer.js';
import { rawPacket, type RawOption } from './firmware-packets.js';
import { incoming, replyOf, silenceOf } from './helpers.js';

const SERVER = '10.0.0.1';
const OTHER_SERVER = '10.0.0.254';
const RESERVED_MAC = '02:00:00:00:00:01';
const PXE_VENDOR: RawOption = [60, 'PXEClient:Arch:00000:UNDI:002001'];

const pool = PoolConfigSchema.parse({
  start: '10.0.0.100',
  end: '10.0.0.102',
  subnetMask: '255.255.255.0',
  router: '10.0.0.254',
  dns: ['10.0.0.53', '10.0.0.54'],
  domain: 'lab.test',
  leaseSeconds: 600,
});

const baseConfig: FullConfig = {
  boot: { serverIp: SERVER, httpBaseUrl: 'http://10.0.0.1:8080', onlyKnownMacs: false },
  localSubnet: { address: SERVER, mask: '255.255.255.0' },
  pool,
  ...FULL_DEFAULTS,
  ports: { server: 67, client: 68, pxe: 4011 },
};

let leases: LeaseStore;
let clock: number;
let hosts: Record<string, HostLookup>;
let reservedMacsFor: FullDeps['reservedMacsFor'];
let config: FullConfig;

beforeEach(() => {
  const store = openLeaseStore(':memory:');
  assert.ok(store.ok);
  leases = store.value;
  clock = Date.UTC(2025, 0, 1);
  hosts = {
    [RESERVED_MAC]: { known: true, loader: 'ipxe', reservation: { ip: '10.0.0.42', hostname: 'node42', router: '10.0.0.1', dns: ['10.0.0.1'] } },
  };
  reservedMacsFor = undefined;
  config = baseConfig;
});
afterEach(() => leases.close());

function answer(request: IncomingRequest): DhcpAnswer {
  return answerFull(request, config, { lookupHost: (mac) => hosts[mac], leases, now: () => clock, reservedMacsFor });
}

const mac = (n: number): string => `02:00:00:00:01:${n.toString(16).padStart(2, '0')}`;
const ip4 = (ip: string): number[] => ip.split('.').map(Number);

function discover(m: string, extra: RawOption[] = [], fields: Parameters<typeof rawPacket>[0] = {}): IncomingRequest {
  return incoming(rawPacket({ mac: m, flags: 0, ...fields }, [[53, [1]], ...extra]));
}
function select(m: string, ip: string, server = SERVER, extra: RawOption[] = []): IncomingRequest {
  return incoming(rawPacket({ mac: m, flags: 0 }, [[53, [3]], [50, ip4(ip)], [54, ip4(server)], ...extra]));
}
function initReboot(m: string, ip: string): IncomingRequest {
  return incoming(rawPacket({ mac: m, flags: 0 }, [[53, [3]], [50, ip4(ip)]]));
}
function renew(m: string, ip: string, unicast: boolean): IncomingRequest {
  return incoming(rawPacket({ mac: m, flags: 0, ciaddr: ip }, [[53, [3]]]), { unicast, source: { address: ip, port: 68 } });
}
function message(type: number, m: string, fields: Parameters<typeof rawPacket>[0], options: RawOption[] = []): IncomingRequest {
  return incoming(rawPacket({ mac: m, flags: 0, ...fields }, [[53, [type]], [54, ip4(SERVER)], ...options]));
}

/** DISCOVER then REQUEST; returns the bound address. */
function lease(m: string, extra: RawOption[] = []): string {
  const offer = replyOf(answer(discover(m, extra)));
  const ack = replyOf(answer(select(m, offer.yiaddr, SERVER, extra)));
  assert.equal(read.messageType(ack.options), MessageType.Ack);
  return ack.yiaddr;
}

describe('full mode: DISCOVER', () => {
  it('offers the reservation with its own network options', () => {
    const result = answer(discover(RESERVED_MAC));
    const offer = replyOf(result);
    assert.equal(read.messageType(offer.options), MessageType.Offer);
    assert.equal(offer.yiaddr, '10.0.0.42');
    assert.equal(read.serverId(offer.options), SERVER);
    assert.equal(read.subnetMask(offer.options), '255.255.255.0');
    assert.deepEqual(read.routers(offer.options), ['10.0.0.1']);
    assert.deepEqual(read.domainServers(offer.options), ['10.0.0.1']);
    assert.equal(read.hostName(offer.options), 'node42');
    assert.equal(read.domainName(offer.options), 'lab.test');
    assert.equal(read.leaseTime(offer.options), 600);
    assert.equal(read.renewalTime(offer.options), 300);
    assert.equal(read.rebindingTime(offer.options), 525);
    assert.equal(read.broadcastAddress(offer.options), '10.0.0.255');
    assert.equal(offer.file, '', 'a plain client gets no boot file');
    assert.equal(offer.options.has(Opt.BootfileName), false);
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '255.255.255.255', port: 68, broadcast: true });
    assert.equal(leases.byIp('10.0.0.42')?.state, 'offered');
  });

  it('offers pool addresses in order with the pool options', () => {
    const first = replyOf(answer(discover(mac(1))));
    const second = replyOf(answer(discover(mac(2))));
    assert.equal(first.yiaddr, '10.0.0.100');
    assert.equal(second.yiaddr, '10.0.0.101');
    assert.deepEqual(read.routers(first.options), ['10.0.0.254']);
    assert.deepEqual(read.domainServers(first.options), ['10.0.0.53', '10.0.0.54']);
    assert.equal(read.domainName(first.options), 'lab.test');
  });

  it('offers the same address again to the same client', () => {
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.100');
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.100');
  });

  it('honours a requested address inside the pool, ignores one outside', () => {
    assert.equal(replyOf(answer(discover(mac(1), [[50, ip4('10.0.0.102')]]))).yiaddr, '10.0.0.102');
    assert.equal(replyOf(answer(discover(mac(2), [[50, ip4('10.0.0.200')]]))).yiaddr, '10.0.0.100');
    assert.equal(replyOf(answer(discover(mac(3), [[50, ip4('10.0.0.42')]]))).yiaddr, '10.0.0.101', 'never another host’s reservation');
  });

  it('is silent with a warning when the pool is exhausted, and does not loop', () => {
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.100');
    assert.equal(replyOf(answer(discover(mac(2)))).yiaddr, '10.0.0.101');
    assert.equal(replyOf(answer(discover(mac(3)))).yiaddr, '10.0.0.102');
    const full = answer(discover(mac(4)));
    assert.match(silenceOf(full), /exhausted/);
    assert.equal(full.action === 'silent' && full.level, 'warn');
  });

  it('frees unanswered offers after the hold time', () => {
    for (const n of [1, 2, 3]) replyOf(answer(discover(mac(n))));
    silenceOf(answer(discover(mac(4))));
    clock += (FULL_DEFAULTS.offerHoldSeconds + 1) * 1000;
    assert.equal(replyOf(answer(discover(mac(4)))).yiaddr, '10.0.0.100');
  });

  it('skips the server’s own address and addresses reserved for other hosts', () => {
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.1', end: '10.0.0.4', subnetMask: '255.255.255.0' }) };
    reservedMacsFor = (ip) => (ip === '10.0.0.2' ? [RESERVED_MAC] : undefined);
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.3');
  });

  it('never offers the network or broadcast address', () => {
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.0', end: '10.0.0.0', subnetMask: '255.255.255.0' }) };
    assert.match(silenceOf(answer(discover(mac(1)))), /exhausted/);
  });

  it('is silent for an unknown MAC when there is no pool', () => {
    config = { ...baseConfig, pool: undefined };
    assert.match(silenceOf(answer(discover(mac(1)))), /no reservation .* and no pool/);
    assert.equal(replyOf(answer(discover(RESERVED_MAC))).yiaddr, '10.0.0.42');
  });

  it('refuses a reservation on another subnet for a direct client', () => {
    hosts[RESERVED_MAC] = { known: true, loader: 'ipxe', reservation: { ip: '192.168.7.10' } };
    const result = answer(discover(RESERVED_MAC));
    assert.match(silenceOf(result), /not on the client's network/);
    assert.equal(result.action === 'silent' && result.level, 'warn');
  });

  it('gives the reservation to any listed NIC of its host, but never takes a bound lease from another', () => {
    const secondNic = '02:00:00:00:00:02';
    hosts[secondNic] = hosts[RESERVED_MAC]!;
    reservedMacsFor = (ip) => (ip === '10.0.0.42' ? [RESERVED_MAC, secondNic] : undefined);
    assert.equal(replyOf(answer(discover(secondNic))).yiaddr, '10.0.0.42', 'the second NIC listed');
    assert.equal(replyOf(answer(discover(RESERVED_MAC))).yiaddr, '10.0.0.42', 'an offer moves to the NIC the machine boots from now');
    assert.equal(read.messageType(replyOf(answer(select(RESERVED_MAC, '10.0.0.42'))).options), MessageType.Ack);
    // Two NICs up at once must not take the address from each other.
    assert.match(silenceOf(answer(discover(secondNic))), /leased to 02:00:00:00:00:01/);
    assert.equal(read.messageType(replyOf(answer(select(secondNic, '10.0.0.42'))).options), MessageType.Nak);
    // A machine matched only by UUID (boards can share one) never takes it either.
    const uuidMatched = '02:00:00:00:00:03';
    hosts[uuidMatched] = hosts[RESERVED_MAC]!;
    assert.match(silenceOf(answer(discover(uuidMatched))), /leased to 02:00:00:00:00:01/);
    silenceOf(answer(message(MessageType.Release, RESERVED_MAC, { ciaddr: '10.0.0.42' })));
    assert.equal(replyOf(answer(discover(uuidMatched))).yiaddr, '10.0.0.42', 'once released, the UUID-matched machine gets its reservation');
    // Anyone else still cannot have it, nor take it from the pool.
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.42', end: '10.0.0.42', subnetMask: '255.255.255.0' }) };
    assert.match(silenceOf(answer(discover(mac(5)))), /exhausted/);
    assert.equal(read.messageType(replyOf(answer(select(mac(5), '10.0.0.42'))).options), MessageType.Nak);
  });

  it('refuses a reservation another client holds a lease on', () => {
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.42', end: '10.0.0.42', subnetMask: '255.255.255.0' }) };
    assert.equal(lease(mac(9)), '10.0.0.42');
    assert.match(silenceOf(answer(discover(RESERVED_MAC))), /leased to 02:00:00:00:01:09/);
  });
});

describe('full mode: boot answers with the lease', () => {
  it('PXE BIOS client gets an address and undionly.kpxe', () => {
    const offer = replyOf(answer(discover(mac(1), [PXE_VENDOR, [93, [0, 0]]])));
    assert.equal(offer.yiaddr, '10.0.0.100');
    assert.equal(offer.siaddr, SERVER);
    assert.equal(offer.file, 'undionly.kpxe');
    assert.equal(read.vendorClass(offer.options), 'PXEClient');
    assert.equal(read.pxeDiscoveryControl(offer.options), 8);
    assert.equal(offer.options.has(Opt.Ipxe), false);
  });

  it('iPXE client gets boot.ipxe and no-pxedhcp (175/176 = 1)', () => {
    const ack = answer(select(RESERVED_MAC, '10.0.0.42', SERVER, [PXE_VENDOR, [77, 'iPXE']]));
    const reply = replyOf(ack);
    assert.equal(reply.yiaddr, '10.0.0.42');
    assert.equal(read.bootfileName(reply.options), 'http://10.0.0.1:8080/boot.ipxe');
    assert.equal(read.ipxeNoPxeDhcp(reply.options), true);
    assert.equal(ack.event.bootFile, 'http://10.0.0.1:8080/boot.ipxe');
  });

  it('UEFI HTTP boot client gets the URL and vendor class HTTPClient', () => {
    const offer = replyOf(answer(discover(mac(1), [[60, 'HTTPClient:Arch:00016:UNDI:003001'], [93, [0, 16]]])));
    assert.equal(offer.file, 'http://10.0.0.1:8080/ipxe.efi');
    assert.equal(read.vendorClass(offer.options), 'HTTPClient');
  });

  it('unknown MAC still leases but does not boot when only known MACs boot', () => {
    config = { ...baseConfig, boot: { ...baseConfig.boot, onlyKnownMacs: true } };
    const offer = replyOf(answer(discover(mac(1), [PXE_VENDOR, [93, [0, 0]]])));
    assert.equal(offer.yiaddr, '10.0.0.100');
    assert.equal(offer.file, '');
  });
});

describe('full mode: REQUEST', () => {
  it('SELECTING our offer -> ACK and a bound lease', () => {
    const offered = replyOf(answer(discover(mac(1)))).yiaddr;
    const result = answer(select(mac(1), offered));
    const ack = replyOf(result);
    assert.equal(read.messageType(ack.options), MessageType.Ack);
    assert.equal(ack.yiaddr, offered);
    assert.equal(read.leaseTime(ack.options), 600);
    assert.equal(result.event.outcome, 'ack');
    const stored = leases.byIp(offered);
    assert.equal(stored?.state, 'bound');
    assert.equal(stored?.mac, mac(1));
    assert.equal(stored?.expiresAt, clock + 600_000);
  });

  it('SELECTING another server -> silent, our offer released for others', () => {
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.100', end: '10.0.0.100', subnetMask: '255.255.255.0' }) };
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.100');
    silenceOf(answer(discover(mac(2))));
    assert.match(silenceOf(answer(select(mac(1), '10.0.0.77', OTHER_SERVER))), /selected server 10.0.0.254/);
    assert.equal(leases.byIp('10.0.0.100'), undefined);
    assert.equal(replyOf(answer(discover(mac(2)))).yiaddr, '10.0.0.100');
  });

  it('SELECTING an address held by someone else -> NAK, broadcast', () => {
    assert.equal(lease(mac(1)), '10.0.0.100');
    const result = answer(select(mac(2), '10.0.0.100'));
    const nak = replyOf(result);
    assert.equal(read.messageType(nak.options), MessageType.Nak);
    assert.equal(nak.yiaddr, '0.0.0.0');
    assert.match(read.message(nak.options) ?? '', /leased to/);
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '255.255.255.255', port: 68, broadcast: true });
  });

  it('SELECTING an address outside pool and reservation -> NAK', () => {
    assert.equal(read.messageType(replyOf(answer(select(mac(1), '10.0.0.150'))).options), MessageType.Nak);
    assert.equal(read.messageType(replyOf(answer(select(RESERVED_MAC, '10.0.0.100'))).options), MessageType.Nak, 'reserved host must take its reservation');
    assert.equal(leases.byIp('10.0.0.150'), undefined);
  });

  it('INIT-REBOOT: right address -> ACK; wrong address -> NAK; wrong subnet -> NAK', () => {
    assert.equal(lease(mac(1)), '10.0.0.100');
    assert.equal(read.messageType(replyOf(answer(initReboot(mac(1), '10.0.0.100'))).options), MessageType.Ack);
    assert.equal(read.messageType(replyOf(answer(initReboot(mac(1), '10.0.0.101'))).options), MessageType.Nak, 'RFC 2131 4.3.2: not the address it holds');
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.100', 'after the NAK it starts over and gets its own address back');
    assert.equal(read.messageType(replyOf(answer(initReboot(RESERVED_MAC, '10.0.0.43'))).options), MessageType.Nak);
    assert.equal(read.messageType(replyOf(answer(initReboot(mac(1), '192.168.1.10'))).options), MessageType.Nak);
    assert.equal(read.messageType(replyOf(answer(initReboot(RESERVED_MAC, '10.0.0.42'))).options), MessageType.Ack);
  });

  it('INIT-REBOOT of a client with no record -> silent (RFC 2131 4.3.2)', () => {
    assert.match(silenceOf(answer(initReboot(mac(7), '10.0.0.101'))), /no record/);
  });

  it('RENEWING (unicast) -> ACK unicast to ciaddr, lease extended', () => {
    assert.equal(lease(mac(1)), '10.0.0.100');
    clock += 300_000;
    const result = answer(renew(mac(1), '10.0.0.100', true));
    const ack = replyOf(result);
    assert.equal(ack.yiaddr, '10.0.0.100');
    assert.equal(ack.ciaddr, '10.0.0.100');
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '10.0.0.100', port: 68, broadcast: false });
    assert.equal(leases.byIp('10.0.0.100')?.expiresAt, clock + 600_000);
  });

  it('RENEWING an unknown lease -> NAK; REBINDING an unknown lease -> silent', () => {
    assert.equal(read.messageType(replyOf(answer(renew(mac(1), '10.0.0.101', true))).options), MessageType.Nak);
    assert.match(silenceOf(answer(renew(mac(1), '10.0.0.101', false))), /another server may hold it/);
  });

  it('REBINDING a known lease -> ACK', () => {
    assert.equal(lease(mac(1)), '10.0.0.100');
    assert.equal(read.messageType(replyOf(answer(renew(mac(1), '10.0.0.100', false))).options), MessageType.Ack);
  });
});

describe('full mode: expiry, DECLINE, RELEASE, INFORM', () => {
  it('an expired lease frees its address for another client', () => {
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.100', end: '10.0.0.100', subnetMask: '255.255.255.0', leaseSeconds: 120 }) };
    assert.equal(lease(mac(1)), '10.0.0.100');
    clock += 119_000;
    silenceOf(answer(discover(mac(2))));
    clock += 2_000;
    assert.equal(replyOf(answer(discover(mac(2)))).yiaddr, '10.0.0.100');
    assert.equal(read.messageType(replyOf(answer(renew(mac(1), '10.0.0.100', true))).options), MessageType.Nak, 'the old holder lost it');
  });

  it('DECLINE holds the address back, then it returns', () => {
    assert.equal(lease(mac(1)), '10.0.0.100');
    const result = answer(message(MessageType.Decline, mac(1), {}, [[50, ip4('10.0.0.100')]]));
    silenceOf(result);
    assert.equal(result.action === 'silent' && result.level, 'warn');
    assert.equal(leases.byIp('10.0.0.100')?.state, 'declined');
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.101', 'a declined address is not offered again');
    assert.equal(read.messageType(replyOf(answer(select(mac(2), '10.0.0.100'))).options), MessageType.Nak);
    clock += (FULL_DEFAULTS.declineHoldSeconds + 1) * 1000;
    assert.equal(replyOf(answer(discover(mac(3), [[50, ip4('10.0.0.100')]]))).yiaddr, '10.0.0.100');
    assert.equal(read.messageType(replyOf(answer(select(mac(3), '10.0.0.100'))).options), MessageType.Ack);
  });

  it('DECLINE of a reservation takes it out of service for a while', () => {
    replyOf(answer(discover(RESERVED_MAC)));
    silenceOf(answer(message(MessageType.Decline, RESERVED_MAC, {}, [[50, ip4('10.0.0.42')]])));
    assert.match(silenceOf(answer(discover(RESERVED_MAC))), /declined/);
  });

  it('DECLINE of an address we did not give is ignored', () => {
    assert.match(silenceOf(answer(message(MessageType.Decline, mac(1), {}, [[50, ip4('10.0.0.100')]]))), /did not give/);
    assert.equal(leases.byIp('10.0.0.100'), undefined);
  });

  it('RELEASE frees the address; the same machine gets it back', () => {
    config = { ...baseConfig, pool: PoolConfigSchema.parse({ start: '10.0.0.100', end: '10.0.0.101', subnetMask: '255.255.255.0' }) };
    assert.equal(lease(mac(1)), '10.0.0.100');
    silenceOf(answer(message(MessageType.Release, mac(1), { ciaddr: '10.0.0.100' })));
    assert.equal(leases.byIp('10.0.0.100')?.state, 'released');
    assert.equal(replyOf(answer(discover(mac(1)))).yiaddr, '10.0.0.100');
  });

  it('RELEASE by another MAC is ignored', () => {
    assert.equal(lease(mac(1)), '10.0.0.100');
    assert.match(silenceOf(answer(message(MessageType.Release, mac(2), { ciaddr: '10.0.0.100' }))), /not leased to/);
    assert.equal(leases.byIp('10.0.0.100')?.state, 'bound');
  });

  it('INFORM -> ACK with options, no yiaddr, no lease time, unicast to ciaddr', () => {
    const result = answer(incoming(rawPacket({ mac: mac(5), ciaddr: '10.0.0.9', flags: 0 }, [[53, [8]], PXE_VENDOR, [93, [0, 0]]])));
    const ack = replyOf(result);
    assert.equal(read.messageType(ack.options), MessageType.Ack);
    assert.equal(ack.yiaddr, '0.0.0.0');
    assert.equal(ack.ciaddr, '10.0.0.9');
    assert.equal(ack.options.has(Opt.LeaseTime), false);
    assert.equal(read.subnetMask(ack.options), '255.255.255.0');
    assert.equal(ack.file, 'undionly.kpxe');
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '10.0.0.9', port: 68, broadcast: false });
  });
});

describe('full mode: relayed requests', () => {
  const remotePool = PoolConfigSchema.parse({ start: '10.50.0.10', end: '10.50.0.20', subnetMask: '255.255.255.0', router: '10.50.0.1' });

  it('serves a pool behind a relay, answering unicast to giaddr:67', () => {
    config = { ...baseConfig, pool: remotePool };
    const result = answer(discover(mac(1), [], { giaddr: '10.50.0.1', hops: 1 }));
    const offer = replyOf(result);
    assert.equal(offer.yiaddr, '10.50.0.10');
    assert.equal(offer.giaddr, '10.50.0.1');
    assert.deepEqual(read.routers(offer.options), ['10.50.0.1']);
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '10.50.0.1', port: 67, broadcast: false });
  });

  it('does not hand the remote pool to direct clients', () => {
    config = { ...baseConfig, pool: remotePool };
    assert.match(silenceOf(answer(discover(mac(1)))), /no pool on this network/);
  });

  it('is silent for a relay on a subnet it knows nothing about', () => {
    assert.match(silenceOf(answer(discover(mac(1), [], { giaddr: '172.16.9.1' }))), /relay 172.16.9.1/);
  });

  it('serves a relayed reservation that carries its netmask', () => {
    hosts[RESERVED_MAC] = { known: true, loader: 'ipxe', reservation: { ip: '172.16.9.20', subnetMask: '255.255.255.0' } };
    assert.equal(replyOf(answer(discover(RESERVED_MAC, [], { giaddr: '172.16.9.1' }))).yiaddr, '172.16.9.20');
  });

  it('a relayed REBINDING of a lease held elsewhere is silent: the relay sent it unicast, the client broadcast it', () => {
    config = { ...baseConfig, pool: remotePool };
    const rebinding = incoming(rawPacket({ mac: mac(1), flags: 0, ciaddr: '10.50.0.15', giaddr: '10.50.0.1' }, [[53, [3]]]), { unicast: true, source: { address: '10.50.0.1', port: 67 } });
    assert.match(silenceOf(answer(rebinding)), /another server may hold it/);
  });

  it('a relayed NAK goes to the relay with the broadcast flag', () => {
    config = { ...baseConfig, pool: remotePool };
    const result = answer(incoming(rawPacket({ mac: mac(1), flags: 0, giaddr: '10.50.0.1' }, [[53, [3]], [50, ip4('10.50.0.99')], [54, ip4(SERVER)]])));
    const nak = replyOf(result);
    assert.equal(read.messageType(nak.options), MessageType.Nak);
    assert.equal(nak.flags & 0x8000, 0x8000);
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '10.50.0.1', port: 67, broadcast: false });
  });
});

describe('full mode: ignores', () => {
  it('BOOTREPLY, the PXE port, missing message type', () => {
    assert.match(silenceOf(answer(incoming(rawPacket({ op: 2 }, [[53, [2]]])))), /BOOTREQUEST/);
    assert.match(silenceOf(answer(incoming(rawPacket({}, [[53, [1]]]), { receivedOn: 'pxe' }))), /PXE port/);
    assert.match(silenceOf(answer(incoming(rawPacket({}, [])))), /not a client message/);
  });
});

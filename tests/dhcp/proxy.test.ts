import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HostLookup } from '../../src/dhcp/host-lookup.js';
import { MessageType, Opt, read } from '../../src/dhcp/options.js';
import { answerProxy, type ProxyConfig } from '../../src/dhcp/proxy.js';
import type { IncomingRequest } from '../../src/dhcp/request.js';
import {
  arm64Discover,
  httpClientDiscover,
  ipxeDiscover,
  nmapDiscover,
  plainDiscover,
  pxeBiosDiscover,
  rawPacket,
  uefiX64Discover,
  UUID_BYTES,
} from './firmware-packets.js';
import { incoming, replyOf, silenceOf } from './helpers.js';

const config: ProxyConfig = {
  boot: { serverIp: '10.0.0.1', httpBaseUrl: 'http://10.0.0.1:8080', onlyKnownMacs: false },
  ports: { server: 67, client: 68, pxe: 4011 },
};
const hosts: Record<string, HostLookup> = {
  '00:1b:21:aa:00:01': { known: true, loader: 'ipxe' },
  '00:1b:21:aa:00:02': { known: true, loader: 'pxelinux', reservation: { ip: '10.0.0.77' } },
};
const deps = { lookupHost: (mac: string) => hosts[mac] };
const answer = (request: IncomingRequest, cfg: ProxyConfig = config) => answerProxy(request, cfg, deps);

describe('proxyDHCP: DISCOVER on port 67 -> OFFER', () => {
  const table: Array<{ name: string; bytes: Buffer; file: string; vendor: string; option43: boolean }> = [
    { name: 'PXE BIOS', bytes: pxeBiosDiscover(), file: 'undionly.kpxe', vendor: 'PXEClient', option43: true },
    { name: 'PXE BIOS, host with loader pxelinux', bytes: pxeBiosDiscover('00:1b:21:aa:00:02'), file: 'pxelinux.0', vendor: 'PXEClient', option43: true },
    { name: 'UEFI x64', bytes: uefiX64Discover(), file: 'ipxe.efi', vendor: 'PXEClient', option43: true },
    { name: 'UEFI x64 tag 9', bytes: uefiX64Discover('52:54:00:00:00:09', 9, 9), file: 'ipxe.efi', vendor: 'PXEClient', option43: true },
    { name: 'ARM64', bytes: arm64Discover(), file: 'snp.efi', vendor: 'PXEClient', option43: true },
    { name: 'UEFI HTTP boot', bytes: httpClientDiscover(), file: 'http://10.0.0.1:8080/ipxe.efi', vendor: 'HTTPClient', option43: false },
    { name: 'iPXE', bytes: ipxeDiscover(), file: 'http://10.0.0.1:8080/boot.ipxe', vendor: 'PXEClient', option43: true },
    { name: 'nmap-style PRL naming 50 and 60', bytes: nmapDiscover(), file: 'ipxe.efi', vendor: 'PXEClient', option43: true },
  ];
  for (const row of table) {
    it(row.name, () => {
      const request = incoming(row.bytes);
      const result = answer(request);
      const reply = replyOf(result);
      assert.equal(reply.op, 2);
      assert.equal(reply.xid, request.packet.xid);
      assert.deepEqual(reply.chaddr, request.packet.chaddr);
      assert.equal(read.messageType(reply.options), MessageType.Offer);
      assert.equal(reply.yiaddr, '0.0.0.0', 'a proxy never assigns an address');
      assert.equal(reply.ciaddr, '0.0.0.0');
      assert.equal(reply.siaddr, '10.0.0.1');
      assert.equal(read.serverId(reply.options), '10.0.0.1');
      assert.equal(read.vendorClass(reply.options), row.vendor);
      assert.equal(reply.file, row.file);
      assert.equal(read.bootfileName(reply.options), row.file);
      assert.equal(reply.options.has(Opt.Ipxe), false, 'never option 175 as proxy');
      assert.equal(reply.options.has(Opt.LeaseTime), false);
      assert.equal(reply.options.has(Opt.SubnetMask), false);
      assert.equal(reply.options.has(Opt.VendorSpecific), row.option43);
      if (row.option43) assert.equal(read.pxeDiscoveryControl(reply.options), 8);
      if (request.packet.options.has(Opt.ClientUuid)) {
        assert.deepEqual(reply.options.get(Opt.ClientUuid), Buffer.from(UUID_BYTES), 'option 97 echoed');
      }
      assert.deepEqual(result.action === 'reply' && result.destination, { address: '255.255.255.255', port: 68, broadcast: true });
      assert.equal(result.event.outcome, 'offer');
      assert.equal(result.event.bootFile, row.file);
    });
  }
});

describe('proxyDHCP: requests', () => {
  const bootServerRequest = (over: Partial<Parameters<typeof rawPacket>[0]> = {}, extra: Array<[number, number[] | string]> = []) =>
    rawPacket({ mac: '52:54:00:00:00:07', ciaddr: '10.0.0.50', ...over }, [
      [53, [3]],
      [60, 'PXEClient:Arch:00007:UNDI:003016'],
      [93, [0, 7]],
      [97, UUID_BYTES],
      ...extra,
    ]);

  it('REQUEST on 4011 -> ACK unicast to the source, ciaddr kept, yiaddr empty', () => {
    const result = answer(incoming(bootServerRequest(), { receivedOn: 'pxe', unicast: true, source: { address: '10.0.0.50', port: 4011 } }));
    const reply = replyOf(result);
    assert.equal(read.messageType(reply.options), MessageType.Ack);
    assert.equal(reply.yiaddr, '0.0.0.0');
    assert.equal(reply.ciaddr, '10.0.0.50');
    assert.equal(reply.file, 'ipxe.efi');
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '10.0.0.50', port: 4011, broadcast: false });
  });

  it('boot server discovery on 67 (REQUEST with boot item 43/71) -> ACK echoing the item', () => {
    const bytes = bootServerRequest({ ciaddr: '0.0.0.0' }, [[43, [71, 4, 0x80, 0x00, 0x00, 0x00, 255]]]);
    const reply = replyOf(answer(incoming(bytes)));
    assert.equal(read.messageType(reply.options), MessageType.Ack);
    assert.deepEqual(read.pxeBootItem(reply.options), { type: 0x8000, layer: 0 });
    assert.equal(read.pxeDiscoveryControl(reply.options), 8);
    assert.equal(reply.yiaddr, '0.0.0.0');
  });

  it('a plain REQUEST on 67 belongs to the real DHCP server', () => {
    const bytes = bootServerRequest({ ciaddr: '0.0.0.0' }, [[54, [10, 0, 0, 254]], [50, [10, 0, 0, 50]]]);
    assert.match(silenceOf(answer(incoming(bytes))), /does not answer REQUEST/);
  });

  it('INFORM on 4011 -> ACK', () => {
    const bytes = rawPacket({ ciaddr: '10.0.0.50' }, [[53, [8]], [60, 'PXEClient:Arch:00000:UNDI:002001']]);
    const reply = replyOf(answer(incoming(bytes, { receivedOn: 'pxe', unicast: true, source: { address: '10.0.0.50', port: 68 } })));
    assert.equal(read.messageType(reply.options), MessageType.Ack);
    assert.equal(reply.file, 'undionly.kpxe');
  });

  it('DISCOVER on 4011 is not a boot server request', () => {
    assert.match(silenceOf(answer(incoming(pxeBiosDiscover(), { receivedOn: 'pxe' }))), /does not answer DISCOVER/);
  });
});

describe('proxyDHCP: stays silent', () => {
  const table: Array<{ name: string; request: IncomingRequest; cfg?: ProxyConfig; reason: RegExp }> = [
    { name: 'a plain client (no PXE vendor class)', request: incoming(plainDiscover()), reason: /not-network-boot-client/ },
    { name: 'an unknown architecture', request: incoming(rawPacket({}, [[53, [1]], [60, 'PXEClient:Arch:00002:UNDI:002001'], [93, [0, 2]]])), reason: /unknown-arch/ },
    { name: 'a BOOTREPLY', request: incoming(rawPacket({ op: 2 }, [[53, [2]], [60, 'PXEClient:Arch:00000:UNDI:002001']])), reason: /BOOTREQUEST/ },
    { name: 'no message type (plain BOOTP)', request: incoming(rawPacket({}, [[60, 'PXEClient:Arch:00000:UNDI:002001']])), reason: /does not answer none/ },
    { name: 'RELEASE', request: incoming(rawPacket({ ciaddr: '10.0.0.5' }, [[53, [7]], [60, 'PXEClient:Arch:00000:UNDI:002001']])), reason: /does not answer RELEASE/ },
    { name: 'DECLINE', request: incoming(rawPacket({}, [[53, [4]], [60, 'PXEClient:Arch:00000:UNDI:002001']])), reason: /does not answer DECLINE/ },
    {
      name: 'an unknown MAC when only known MACs boot',
      request: incoming(uefiX64Discover()),
      cfg: { ...config, boot: { ...config.boot, onlyKnownMacs: true } },
      reason: /unknown-host/,
    },
  ];
  for (const row of table) it(row.name, () => assert.match(silenceOf(answer(row.request, row.cfg)), row.reason));

  it('boots a known MAC when only known MACs boot', () => {
    const reply = replyOf(answer(incoming(pxeBiosDiscover()), { ...config, boot: { ...config.boot, onlyKnownMacs: true } }));
    assert.equal(reply.file, 'undionly.kpxe');
  });
});

describe('proxyDHCP: relayed requests', () => {
  it('answers a relayed DISCOVER unicast to giaddr:67, giaddr kept', () => {
    const request = incoming(rawPacket({ giaddr: '10.20.0.1', hops: 1, mac: '52:54:00:00:00:07' }, [[53, [1]], [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]]]), {
      unicast: true,
      source: { address: '10.20.0.1', port: 67 },
    });
    const result = answer(request);
    const reply = replyOf(result);
    assert.equal(reply.giaddr, '10.20.0.1');
    assert.equal(reply.hops, 0);
    assert.equal(reply.yiaddr, '0.0.0.0');
    assert.deepEqual(result.action === 'reply' && result.destination, { address: '10.20.0.1', port: 67, broadcast: false });
  });
});

describe('proxyDHCP: long boot URLs', () => {
  it('puts a URL that does not fit the file field in option 67 only', () => {
    const cfg = { ...config, boot: { ...config.boot, httpBaseUrl: `http://boot.example.test/${'a'.repeat(120)}` } };
    const reply = replyOf(answer(incoming(ipxeDiscover()), cfg));
    assert.equal(reply.file, '');
    assert.equal(read.bootfileName(reply.options), `${cfg.boot.httpBaseUrl}/boot.ipxe`);
  });
});

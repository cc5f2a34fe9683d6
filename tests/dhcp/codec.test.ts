import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientMac, decodePacket, encodePacket, emptyPacket, type DecodeError, type DhcpPacket } from '../../src/dhcp/codec.js';
import { encode, Opt, parseUserClass, read } from '../../src/dhcp/options.js';
import {
  arm64Discover,
  httpClientDiscover,
  ipxeDiscover,
  nmapDiscover,
  optionBytes,
  plainDiscover,
  pxeBiosDiscover,
  rawPacket,
  uefiX64Discover,
  UUID_TEXT,
} from './firmware-packets.js';

function decoded(bytes: Buffer): DhcpPacket {
  const result = decodePacket(bytes);
  if (!result.ok) assert.fail(`decode failed: ${JSON.stringify(result.error)}`);
  return result.value;
}

function decodeError(bytes: Buffer): DecodeError {
  const result = decodePacket(bytes);
  if (result.ok) assert.fail('expected a decode error');
  return result.error;
}

describe('decodePacket: firmware packets', () => {
  const table: Array<{
    name: string;
    bytes: Buffer;
    mac: string;
    vendorClass: string | undefined;
    arch: number[] | undefined;
    userClass: string[] | undefined;
    uuid: string | undefined;
    ndi?: { type: number; major: number; minor: number };
    maxSize?: number;
  }> = [
    { name: 'PXE BIOS (arch 0)', bytes: pxeBiosDiscover(), mac: '00:1b:21:aa:00:01', vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: [0], userClass: undefined, uuid: UUID_TEXT, ndi: { type: 1, major: 2, minor: 1 }, maxSize: 1472 },
    { name: 'UEFI x64 (arch 7)', bytes: uefiX64Discover(), mac: '52:54:00:00:00:07', vendorClass: 'PXEClient:Arch:00007:UNDI:003000', arch: [7], userClass: undefined, uuid: UUID_TEXT, ndi: { type: 1, major: 3, minor: 0 }, maxSize: 1500 },
    { name: 'ARM64 (arch 11)', bytes: arm64Discover(), mac: '52:54:00:00:00:0b', vendorClass: 'PXEClient:Arch:00011:UNDI:003000', arch: [11], userClass: undefined, uuid: UUID_TEXT },
    { name: 'UEFI HTTP boot (arch 16)', bytes: httpClientDiscover(), mac: '52:54:00:00:00:10', vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', arch: [16], userClass: undefined, uuid: UUID_TEXT, ndi: { type: 1, major: 3, minor: 1 } },
    { name: 'iPXE', bytes: ipxeDiscover(), mac: '00:1b:21:aa:00:01', vendorClass: 'PXEClient:Arch:00000:UNDI:002001', arch: [0], userClass: ['iPXE'], uuid: UUID_TEXT },
    { name: 'udhcpc (plain)', bytes: plainDiscover(), mac: '02:00:00:00:00:99', vendorClass: undefined, arch: undefined, userClass: undefined, uuid: undefined, maxSize: 576 },
    { name: 'nmap (PRL with 50 and 60)', bytes: nmapDiscover(), mac: 'de:ad:c0:de:ca:fe', vendorClass: 'PXEClient:Arch:00007:UNDI:003016', arch: undefined, userClass: undefined, uuid: undefined },
  ];

  for (const row of table) {
    it(row.name, () => {
      const p = decoded(row.bytes);
      assert.equal(p.op, 1);
      assert.equal(read.messageType(p.options), 1);
      assert.equal(clientMac(p), row.mac);
      assert.equal(read.vendorClass(p.options), row.vendorClass);
      assert.deepEqual(read.clientArch(p.options), row.arch);
      assert.deepEqual(read.userClass(p.options), row.userClass);
      assert.equal(read.clientUuid(p.options), row.uuid);
      if (row.ndi) assert.deepEqual(read.clientNdi(p.options), row.ndi);
      if (row.maxSize) assert.equal(read.maxMessageSize(p.options), row.maxSize);
    });
  }

  it('keeps header fields', () => {
    const p = decoded(rawPacket({ xid: 0xdeadbeef, secs: 9, flags: 0x8000, ciaddr: '10.0.0.9', giaddr: '10.1.0.1', hops: 1 }, [[53, [3]]]));
    assert.equal(p.xid, 0xdeadbeef);
    assert.equal(p.secs, 9);
    assert.equal(p.flags, 0x8000);
    assert.equal(p.ciaddr, '10.0.0.9');
    assert.equal(p.giaddr, '10.1.0.1');
    assert.equal(p.hops, 1);
  });

  it('reads the PRL that crashes the npm dhcp package', () => {
    assert.deepEqual(read.parameterRequestList(decoded(nmapDiscover()).options), [1, 3, 6, 15, 28, 50, 51, 54, 58, 59, 60, 119]);
  });

  it('reads iPXE option 175 sub-options', () => {
    const sub = read.ipxe(decoded(ipxeDiscover()).options);
    assert.deepEqual(sub?.get(0x13), Buffer.from([1]));
    assert.deepEqual(sub?.get(0xeb), Buffer.from([1, 21, 1]));
    assert.equal(read.ipxeNoPxeDhcp(decoded(ipxeDiscover()).options), false);
    const noPxe = decoded(rawPacket({}, [[53, [1]], [175, [176, 1, 1]]]));
    assert.equal(read.ipxeNoPxeDhcp(noPxe.options), true);
  });

  it('reads PXE option 43 sub-options', () => {
    const p = decoded(rawPacket({}, [[53, [3]], [43, [6, 1, 8, 71, 4, 0x80, 0x00, 0x00, 0x00, 255]]]));
    assert.equal(read.pxeDiscoveryControl(p.options), 8);
    assert.deepEqual(read.pxeBootItem(p.options), { type: 0x8000, layer: 0 });
  });

  it('reads address, time and text options', () => {
    const p = decoded(
      rawPacket({}, [
        [53, [5]],
        [1, [255, 255, 255, 0]],
        [3, [10, 0, 0, 1, 10, 0, 0, 2]],
        [6, [10, 0, 0, 53]],
        [12, 'node1'],
        [15, 'lab.test\0'],
        [28, [10, 0, 0, 255]],
        [50, [10, 0, 0, 20]],
        [51, [0, 0, 0x0e, 0x10]],
        [54, [10, 0, 0, 1]],
        [66, '10.0.0.1'],
        [67, 'undionly.kpxe'],
      ]),
    );
    assert.equal(read.subnetMask(p.options), '255.255.255.0');
    assert.deepEqual(read.routers(p.options), ['10.0.0.1', '10.0.0.2']);
    assert.deepEqual(read.domainServers(p.options), ['10.0.0.53']);
    assert.equal(read.hostName(p.options), 'node1');
    assert.equal(read.domainName(p.options), 'lab.test');
    assert.equal(read.broadcastAddress(p.options), '10.0.0.255');
    assert.equal(read.requestedIp(p.options), '10.0.0.20');
    assert.equal(read.leaseTime(p.options), 3600);
    assert.equal(read.serverId(p.options), '10.0.0.1');
    assert.equal(read.tftpServerName(p.options), '10.0.0.1');
    assert.equal(read.bootfileName(p.options), 'undionly.kpxe');
  });

  it('returns undefined for malformed typed options instead of throwing', () => {
    const p = decoded(rawPacket({}, [[53, [1, 2]], [50, [10, 0]], [93, [0]], [97, [1, ...Array(16).fill(0)]], [94, [1]], [3, [1, 2, 3]]]));
    assert.equal(read.messageType(p.options), undefined);
    assert.equal(read.requestedIp(p.options), undefined);
    assert.equal(read.clientArch(p.options), undefined);
    assert.equal(read.clientUuid(p.options), undefined);
    assert.equal(read.clientNdi(p.options), undefined);
    assert.equal(read.routers(p.options), undefined);
  });

  it('reads a list of architectures', () => {
    assert.deepEqual(read.clientArch(decoded(rawPacket({}, [[93, [0, 7, 0, 16]]])).options), [7, 16]);
  });

  it('tolerates a missing End option (ROMs that pad with zeros)', () => {
    const p = decoded(rawPacket({}, [[53, [1]], [60, 'PXEClient']], { end: false, length: 300 }));
    assert.equal(read.vendorClass(p.options), 'PXEClient');
  });

  it('concatenates an option sent several times (RFC 3396)', () => {
    const p = decoded(rawPacket({}, [[53, [1]], [77, [4, 0x69, 0x50]], [77, [0x58, 0x45]]]));
    assert.deepEqual(read.userClass(p.options), ['iPXE']);
  });

  it('reads options overloaded into file and sname (option 52)', () => {
    const file = optionBytes([[60, 'PXEClient:Arch:00000:UNDI:002001']]);
    const sname = optionBytes([[12, 'overloaded']]);
    const p = decoded(rawPacket({ file, sname }, [[53, [1]], [52, [3]]]));
    assert.equal(read.vendorClass(p.options), 'PXEClient:Arch:00000:UNDI:002001');
    assert.equal(read.hostName(p.options), 'overloaded');
    assert.equal(p.file, '');
    assert.equal(p.sname, '');
    assert.equal(p.options.has(Opt.Overload), false);
  });

  it('reads file and sname as strings when not overloaded', () => {
    const p = decoded(rawPacket({ file: Buffer.from('pxelinux.0\0'), sname: Buffer.from('boot-server') }, [[53, [2]]]));
    assert.equal(p.file, 'pxelinux.0');
    assert.equal(p.sname, 'boot-server');
  });
});

describe('decodePacket: errors are values', () => {
  const cases: Array<{ name: string; bytes: Buffer; kind: DecodeError['kind'] }> = [
    { name: 'empty', bytes: Buffer.alloc(0), kind: 'truncated' },
    { name: 'shorter than the header', bytes: pxeBiosDiscover().subarray(0, 100), kind: 'truncated' },
    { name: 'cut inside the magic cookie', bytes: pxeBiosDiscover().subarray(0, 239), kind: 'truncated' },
    { name: 'plain BOOTP (no cookie)', bytes: rawPacket({ cookie: 0 }, []), kind: 'bad-magic-cookie' },
    { name: 'wrong cookie', bytes: rawPacket({ cookie: 0x63825364 }, [[53, [1]]]), kind: 'bad-magic-cookie' },
    { name: 'hlen over 16', bytes: rawPacket({ hlen: 17 }, [[53, [1]]]), kind: 'bad-hardware-length' },
    { name: 'option length past the end', bytes: Buffer.concat([rawPacket({}, [[53, [1]]], { end: false }), Buffer.from([60, 40, 0x50])]), kind: 'option-overrun' },
    { name: 'option code with no length byte', bytes: Buffer.concat([rawPacket({}, [[53, [1]]], { end: false }), Buffer.from([60])]), kind: 'option-overrun' },
    { name: 'overload value 4', bytes: rawPacket({}, [[53, [1]], [52, [4]]]), kind: 'bad-overload' },
    { name: 'overload of length 2', bytes: rawPacket({}, [[53, [1]], [52, [1, 1]]]), kind: 'bad-overload' },
    // 64 KiB of repeated one-byte options would cost the joins of RFC 3396 quadratic time.
    { name: 'a 64 KiB datagram', bytes: Buffer.concat([rawPacket({}, [[53, [1]]], { end: false }), Buffer.alloc(65_000, Buffer.from([60, 1, 0x41]))]), kind: 'oversized' },
    { name: 'overrun inside the overloaded file field', bytes: rawPacket({ file: Buffer.concat([Buffer.alloc(126), Buffer.from([60, 9])]) }, [[53, [1]], [52, [1]]]), kind: 'option-overrun' },
  ];
  for (const c of cases) {
    it(c.name, () => assert.equal(decodeError(c.bytes).kind, c.kind));
  }
  it('a jumbo-frame-sized message still decodes', () => {
    const bytes = Buffer.concat([rawPacket({}, [[53, [1]]], { end: false }), Buffer.alloc(7998, Buffer.from([60, 1, 0x41])), Buffer.from([255])]);
    assert.equal(decoded(bytes).options.get(60)?.length, 7998 / 3);
  });
});

describe('encodePacket', () => {
  function sample(): DhcpPacket {
    const p = emptyPacket();
    p.op = 2;
    p.xid = 0xcafebabe;
    p.yiaddr = '10.0.0.50';
    p.siaddr = '10.0.0.1';
    p.chaddr = Buffer.from([0x52, 0x54, 0, 0, 0, 7, ...Array(10).fill(0)]);
    p.file = 'undionly.kpxe';
    p.options.set(Opt.ServerId, encode.ip('10.0.0.1'));
    p.options.set(Opt.MessageType, encode.u8(2));
    p.options.set(Opt.VendorClass, encode.text('PXEClient'));
    return p;
  }

  it('pads to the 300-byte BOOTP minimum', () => {
    const bytes = encodePacket(sample());
    assert.ok(bytes.ok);
    assert.equal(bytes.value.length, 300);
  });

  it('writes option 53 first and ends with 255', () => {
    const bytes = encodePacket(sample());
    assert.ok(bytes.ok);
    assert.deepEqual([...bytes.value.subarray(240, 243)], [53, 1, 2]);
    const end = bytes.value.indexOf(255, 240);
    assert.ok(end > 240);
    assert.ok(bytes.value.subarray(end + 1).every((b) => b === 0));
  });

  it('round-trips through decodePacket', () => {
    const original = sample();
    const bytes = encodePacket(original);
    assert.ok(bytes.ok);
    const back = decoded(bytes.value);
    assert.equal(back.xid, original.xid);
    assert.equal(back.yiaddr, '10.0.0.50');
    assert.equal(back.siaddr, '10.0.0.1');
    assert.equal(back.file, 'undionly.kpxe');
    assert.equal(clientMac(back), '52:54:00:00:00:07');
    assert.deepEqual([...back.options.keys()], [53, 54, 60]);
  });

  it('splits options longer than 255 bytes and decode joins them', () => {
    const p = sample();
    const long = Buffer.alloc(600, 0x41);
    p.options.set(Opt.BootfileName, long);
    const bytes = encodePacket(p);
    assert.ok(bytes.ok);
    assert.deepEqual(decoded(bytes.value).options.get(Opt.BootfileName), long);
  });

  it('refuses a file name that does not fit the 128-byte field', () => {
    const p = sample();
    p.file = `http://10.0.0.1/${'x'.repeat(120)}`;
    const bytes = encodePacket(p);
    assert.equal(bytes.ok, false);
    if (!bytes.ok) assert.equal(bytes.error.field, 'file');
  });

  it('refuses an sname that does not fit the 64-byte field', () => {
    const p = sample();
    p.sname = 's'.repeat(64);
    assert.equal(encodePacket(p).ok, false);
  });
});

describe('parseUserClass', () => {
  const table: Array<[string, number[] | string, string[]]> = [
    ['iPXE plain string', 'iPXE', ['iPXE']],
    ['RFC 3004 single', [4, 0x69, 0x50, 0x58, 0x45], ['iPXE']],
    ['RFC 3004 two classes', [4, 0x74, 0x65, 0x73, 0x74, 3, 0x66, 0x6f, 0x6f], ['test', 'foo']],
    ['length past the end is a plain string', [9, 0x61], ['\ta']],
    ['zero length item is a plain string', [0, 0x61], ['\u0000a']],
    ['empty', [], []],
  ];
  for (const [name, bytes, expected] of table) {
    it(name, () => {
      const value = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes);
      assert.deepEqual(parseUserClass(value), expected);
    });
  }
});

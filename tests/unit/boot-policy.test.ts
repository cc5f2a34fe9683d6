import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  archFromVendorClass,
  BootFactsSchema,
  BootServerSchema,
  decideBoot,
  HostBootInfoSchema,
  type BootFacts,
  type BootServer,
  type HostBootInfo,
} from '../../src/boot/policy.js';

const server: BootServer = { serverIp: '10.0.0.1', httpBaseUrl: 'http://10.0.0.1:8080', onlyKnownMacs: false };
const mac = '52:54:00:12:34:56';
const DISCOVER = 1;
const pxe = (arch: number, undi = '002001'): string => `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:${undi}`;

type Expect =
  | { ignore: string }
  | { file: string; via: 'tftp' | 'http'; vendor?: 'PXEClient' | 'HTTPClient'; client?: string };

const table: Array<{ name: string; facts: Partial<BootFacts>; host?: HostBootInfo; server?: Partial<BootServer>; expect: Expect }> = [
  { name: 'BIOS PXE -> undionly.kpxe', facts: { vendorClass: pxe(0), clientArch: 0 }, expect: { file: 'undionly.kpxe', via: 'tftp', vendor: 'PXEClient', client: 'bios' } },
  { name: 'UEFI IA32 tag 6 -> ipxe.efi', facts: { vendorClass: pxe(6), clientArch: 6 }, expect: { file: 'ipxe.efi', via: 'tftp', client: 'uefi-x64' } },
  { name: 'UEFI x64 tag 7 -> ipxe.efi', facts: { vendorClass: pxe(7, '003016'), clientArch: 7 }, expect: { file: 'ipxe.efi', via: 'tftp', client: 'uefi-x64' } },
  { name: 'UEFI x64 tag 9 -> ipxe.efi', facts: { vendorClass: pxe(9), clientArch: 9 }, expect: { file: 'ipxe.efi', via: 'tftp' } },
  { name: 'ARM64 -> snp.efi', facts: { vendorClass: pxe(11), clientArch: 11 }, expect: { file: 'snp.efi', via: 'tftp', client: 'uefi-arm64' } },
  { name: 'arch only in the vendor class', facts: { vendorClass: pxe(7) }, expect: { file: 'ipxe.efi', via: 'tftp' } },
  { name: 'option 93 wins over the vendor class', facts: { vendorClass: pxe(0), clientArch: 7 }, expect: { file: 'ipxe.efi', via: 'tftp' } },
  { name: 'HTTP boot x64 (16) -> URL of ipxe.efi, HTTPClient', facts: { vendorClass: 'HTTPClient:Arch:00016:UNDI:003001', clientArch: 16 }, expect: { file: 'http://10.0.0.1:8080/ipxe.efi', via: 'http', vendor: 'HTTPClient', client: 'uefi-http' } },
  { name: 'HTTP boot x86 (15) -> URL of ipxe.efi', facts: { vendorClass: 'HTTPClient:Arch:00015:UNDI:003001', clientArch: 15 }, expect: { file: 'http://10.0.0.1:8080/ipxe.efi', via: 'http', vendor: 'HTTPClient' } },
  { name: 'HTTP boot ARM64 (19) -> URL of snp.efi', facts: { vendorClass: 'HTTPClient:Arch:00019:UNDI:003001', clientArch: 19 }, expect: { file: 'http://10.0.0.1:8080/snp.efi', via: 'http', vendor: 'HTTPClient' } },
  { name: 'iPXE -> boot.ipxe (breaks the chain-load loop)', facts: { vendorClass: pxe(0), clientArch: 0, userClass: ['iPXE'] }, expect: { file: 'http://10.0.0.1:8080/boot.ipxe', via: 'http', vendor: 'PXEClient', client: 'ipxe' } },
  { name: 'iPXE on UEFI -> boot.ipxe', facts: { vendorClass: pxe(7), clientArch: 7, userClass: ['iPXE'] }, expect: { file: 'http://10.0.0.1:8080/boot.ipxe', via: 'http' } },
  { name: 'iPXE without vendor class -> boot.ipxe', facts: { userClass: ['iPXE'] }, expect: { file: 'http://10.0.0.1:8080/boot.ipxe', via: 'http' } },
  { name: 'iPXE beats a pxelinux loader', facts: { vendorClass: pxe(0), clientArch: 0, userClass: ['iPXE'] }, host: { known: true, loader: 'pxelinux' }, expect: { file: 'http://10.0.0.1:8080/boot.ipxe', via: 'http' } },
  { name: 'trailing slash of the base URL is dropped', facts: { userClass: ['iPXE'] }, server: { httpBaseUrl: 'http://boot.lab/' }, expect: { file: 'http://boot.lab/boot.ipxe', via: 'http' } },
  { name: 'loader pxelinux switches BIOS to pxelinux.0', facts: { vendorClass: pxe(0), clientArch: 0 }, host: { known: true, loader: 'pxelinux' }, expect: { file: 'pxelinux.0', via: 'tftp' } },
  { name: 'loader pxelinux leaves UEFI on ipxe.efi', facts: { vendorClass: pxe(7), clientArch: 7 }, host: { known: true, loader: 'pxelinux' }, expect: { file: 'ipxe.efi', via: 'tftp' } },
  { name: 'loader grub switches UEFI x64 to grubx64.efi', facts: { vendorClass: pxe(7), clientArch: 7 }, host: { known: true, loader: 'grub' }, expect: { file: 'grubx64.efi', via: 'tftp' } },
  { name: 'loader grub leaves BIOS on undionly.kpxe', facts: { vendorClass: pxe(0), clientArch: 0 }, host: { known: true, loader: 'grub' }, expect: { file: 'undionly.kpxe', via: 'tftp' } },
  { name: 'REQUEST is answered like DISCOVER', facts: { messageType: 3, vendorClass: pxe(0), clientArch: 0 }, expect: { file: 'undionly.kpxe', via: 'tftp' } },
  { name: 'INFORM is answered', facts: { messageType: 8, vendorClass: pxe(0), clientArch: 0 }, expect: { file: 'undionly.kpxe', via: 'tftp' } },
  { name: 'known MAC when only known MACs boot', facts: { vendorClass: pxe(0), clientArch: 0 }, host: { known: true, loader: 'ipxe' }, server: { onlyKnownMacs: true }, expect: { file: 'undionly.kpxe', via: 'tftp' } },

  { name: 'no vendor class -> ignore', facts: {}, expect: { ignore: 'not-network-boot-client' } },
  { name: 'MSFT vendor class -> ignore', facts: { vendorClass: 'MSFT 5.0' }, expect: { ignore: 'not-network-boot-client' } },
  { name: 'lowercase pxeclient is not PXE', facts: { vendorClass: 'pxeclient', clientArch: 0 }, expect: { ignore: 'not-network-boot-client' } },
  { name: 'other user class is not iPXE', facts: { userClass: ['gPXE-not'] }, expect: { ignore: 'not-network-boot-client' } },
  { name: 'unknown arch 2 (Itanium) -> ignore', facts: { vendorClass: pxe(2), clientArch: 2 }, expect: { ignore: 'unknown-arch' } },
  { name: 'ARM32 (10) has no binary -> ignore', facts: { vendorClass: pxe(10), clientArch: 10 }, expect: { ignore: 'unknown-arch' } },
  { name: 'PXEClient without any arch -> ignore', facts: { vendorClass: 'PXEClient' }, expect: { ignore: 'unknown-arch' } },
  { name: 'HTTPClient with a PXE arch -> ignore', facts: { vendorClass: 'HTTPClient:Arch:00007', clientArch: 7 }, expect: { ignore: 'unknown-arch' } },
  { name: 'RELEASE never boots', facts: { messageType: 7, vendorClass: pxe(0), clientArch: 0 }, expect: { ignore: 'not-a-boot-message' } },
  { name: 'DECLINE never boots', facts: { messageType: 4, userClass: ['iPXE'] }, expect: { ignore: 'not-a-boot-message' } },
  { name: 'unknown MAC when only known MACs boot', facts: { vendorClass: pxe(0), clientArch: 0 }, server: { onlyKnownMacs: true }, expect: { ignore: 'unknown-host' } },
  { name: 'defined but unknown host when only known MACs boot', facts: { userClass: ['iPXE'] }, host: { known: false, loader: 'ipxe' }, server: { onlyKnownMacs: true }, expect: { ignore: 'unknown-host' } },
];

describe('decideBoot', () => {
  for (const row of table) {
    it(row.name, () => {
      const facts: BootFacts = { messageType: DISCOVER, mac, ...row.facts };
      const decision = decideBoot(facts, row.host, { ...server, ...row.server });
      if ('ignore' in row.expect) {
        assert.equal(decision.action, 'ignore');
        if (decision.action === 'ignore') {
          assert.equal(decision.reason, row.expect.ignore);
          assert.ok(decision.detail.length > 0);
        }
        return;
      }
      assert.equal(decision.action, 'boot', decision.action === 'ignore' ? decision.detail : '');
      if (decision.action !== 'boot') return;
      assert.equal(decision.bootFile, row.expect.file);
      assert.equal(decision.via, row.expect.via);
      assert.equal(decision.nextServer, '10.0.0.1');
      if (row.expect.vendor) assert.equal(decision.replyVendorClass, row.expect.vendor);
      if (row.expect.client) assert.equal(decision.client, row.expect.client);
    });
  }

  it('is pure: same input, same output, input untouched', () => {
    const facts: BootFacts = { messageType: DISCOVER, mac, vendorClass: pxe(7), clientArch: 7, userClass: ['x'] };
    const copy = structuredClone(facts);
    assert.deepEqual(decideBoot(facts, undefined, server), decideBoot(facts, undefined, server));
    assert.deepEqual(facts, copy);
  });
});

describe('archFromVendorClass', () => {
  const rows: Array<[string | undefined, number | undefined]> = [
    ['PXEClient:Arch:00000:UNDI:002001', 0],
    ['PXEClient:Arch:00007:UNDI:003016', 7],
    ['HTTPClient:Arch:00016:UNDI:003001', 16],
    ['PXEClient', undefined],
    ['PXEClient:Arch:7', undefined],
    [undefined, undefined],
  ];
  for (const [vendor, arch] of rows) it(String(vendor), () => assert.equal(archFromVendorClass(vendor), arch));
});

describe('schemas for outside input', () => {
  it('accept well-formed facts, host and server', () => {
    assert.ok(BootFactsSchema.safeParse({ messageType: 1, mac, clientArch: 7, userClass: ['iPXE'] }).success);
    assert.ok(HostBootInfoSchema.safeParse({ known: true, loader: 'grub' }).success);
    assert.ok(BootServerSchema.safeParse(server).success);
  });
  it('reject malformed ones', () => {
    assert.equal(BootFactsSchema.safeParse({ messageType: 1, mac: 'AA-BB' }).success, false);
    assert.equal(BootFactsSchema.safeParse({ messageType: 1, mac, clientArch: 70000 }).success, false);
    assert.equal(HostBootInfoSchema.safeParse({ known: true, loader: 'syslinux' }).success, false);
    assert.equal(BootServerSchema.safeParse({ ...server, serverIp: '10.0.0' }).success, false);
    assert.equal(BootServerSchema.safeParse({ ...server, httpBaseUrl: 'not a url' }).success, false);
  });
});

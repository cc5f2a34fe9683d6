// Which boot file a network-booting machine gets, decided from its DHCP facts alone.
// Pure: no sockets, no I/O. The DHCP responders (proxy and full) both ask this one place.

import { z } from 'zod';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){0,15}$/;

/** What the DHCP layer learned from the client's packet. */
export const BootFactsSchema = z.object({
  messageType: z.number().int().min(0).max(255),
  vendorClass: z.string().optional(),
  userClass: z.array(z.string()).optional(),
  clientArch: z.number().int().min(0).max(0xffff).optional(),
  mac: z.string().regex(MAC, 'MAC address as lowercase aa:bb:cc:dd:ee:ff'),
  uuid: z.string().optional(),
});
export type BootFacts = z.infer<typeof BootFactsSchema>;

export const LoaderSchema = z.enum(['ipxe', 'pxelinux', 'grub']);
export type Loader = z.infer<typeof LoaderSchema>;

/** What the host definitions say about this machine (undefined: no definition matched). */
export const HostBootInfoSchema = z.object({
  known: z.boolean(),
  loader: LoaderSchema,
});
export type HostBootInfo = z.infer<typeof HostBootInfoSchema>;

export const BootServerSchema = z.object({
  serverIp: z.ipv4(),
  httpBaseUrl: z.url(),
  onlyKnownMacs: z.boolean(),
});
export type BootServer = z.infer<typeof BootServerSchema>;

export type IgnoreReason =
  | 'not-a-boot-message'
  | 'unknown-host'
  | 'not-network-boot-client'
  | 'unknown-arch';

export type ClientKind = 'ipxe' | 'bios' | 'uefi-x64' | 'uefi-arm64' | 'uefi-http';

export type BootDecision =
  | { action: 'ignore'; reason: IgnoreReason; detail: string }
  | {
      action: 'boot';
      bootFile: string;
      via: 'tftp' | 'http';
      /** siaddr of the reply: where the client fetches a TFTP boot file. */
      nextServer: string;
      /** Option 60 of the reply; UEFI HTTP boot only accepts offers that say HTTPClient. */
      replyVendorClass: 'PXEClient' | 'HTTPClient';
      client: ClientKind;
      arch: number | undefined;
    };

/** Client system architecture types (RFC 4578 2.1 and the IANA registry). */
export const Arch = {
  BiosX86: 0,
  UefiIa32: 6,
  UefiBc: 7,
  UefiX64: 9,
  UefiArm64: 11,
  UefiHttpX86: 15,
  UefiHttpX64: 16,
  UefiHttpArm64: 19,
} as const;

// 6 (IA32), 7 and 9 are all sent by x64 firmware in the wild (RFC 4578 and the IANA registry
// disagree on 7 and 9, and vendors copied both), so all three get the x64 iPXE binary.
const UEFI_X64 = new Set<number>([Arch.UefiIa32, Arch.UefiBc, Arch.UefiX64]);
const BOOT_MESSAGES = new Set([1 /* DISCOVER */, 3 /* REQUEST */, 8 /* INFORM */]);

/** PXE and HTTP boot firmware also put the arch in option 60: "PXEClient:Arch:00007:UNDI:003016". */
export function archFromVendorClass(vendorClass: string | undefined): number | undefined {
  const match = vendorClass?.match(/^(?:PXEClient|HTTPClient):Arch:(\d{5})/);
  return match ? Number(match[1]) : undefined;
}

function ignore(reason: IgnoreReason, detail: string): BootDecision {
  return { action: 'ignore', reason, detail };
}

export function decideBoot(
  facts: BootFacts,
  host: HostBootInfo | undefined,
  server: BootServer,
): BootDecision {
  if (!BOOT_MESSAGES.has(facts.messageType)) {
    return ignore('not-a-boot-message', `DHCP message type ${facts.messageType} never carries a boot file`);
  }
  if (server.onlyKnownMacs && host?.known !== true) {
    return ignore('unknown-host', `no host definition has MAC ${facts.mac} (only known MACs are booted)`);
  }

  const base = server.httpBaseUrl.replace(/\/+$/, '');
  const vendorClass = facts.vendorClass ?? '';
  const isHttpClient = vendorClass.startsWith('HTTPClient');
  const arch = facts.clientArch ?? archFromVendorClass(facts.vendorClass);
  const boot = (bootFile: string, via: 'tftp' | 'http', client: ClientKind): BootDecision => ({
    action: 'boot',
    bootFile,
    via,
    nextServer: server.serverIp,
    replyVendorClass: isHttpClient ? 'HTTPClient' : 'PXEClient',
    client,
    arch,
  });

  // Already running iPXE: hand it the script, or it would TFTP iPXE again and loop forever.
  if (facts.userClass?.includes('iPXE') === true) return boot(`${base}/boot.ipxe`, 'http', 'ipxe');

  if (!isHttpClient && !vendorClass.startsWith('PXEClient')) {
    return ignore('not-network-boot-client', `vendor class '${vendorClass}' is neither PXEClient nor HTTPClient, and the client is not iPXE`);
  }
  if (arch === undefined) {
    return ignore('unknown-arch', 'no client architecture in option 93 nor in the vendor class');
  }

  if (isHttpClient) {
    if (arch === Arch.UefiHttpX86 || arch === Arch.UefiHttpX64) return boot(`${base}/ipxe.efi`, 'http', 'uefi-http');
    if (arch === Arch.UefiHttpArm64) return boot(`${base}/snp.efi`, 'http', 'uefi-http');
    return ignore('unknown-arch', `HTTP boot client architecture ${arch} has no boot file`);
  }

  const loader = host?.loader ?? 'ipxe';
  if (arch === Arch.BiosX86) return boot(loader === 'pxelinux' ? 'pxelinux.0' : 'undionly.kpxe', 'tftp', 'bios');
  if (UEFI_X64.has(arch)) return boot(loader === 'grub' ? 'grubx64.efi' : 'ipxe.efi', 'tftp', 'uefi-x64');
  if (arch === Arch.UefiArm64) return boot('snp.efi', 'tftp', 'uefi-arm64');
  return ignore('unknown-arch', `PXE client architecture ${arch} has no boot file`);
}

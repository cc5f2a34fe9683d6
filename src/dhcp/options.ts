// DHCP option codes (RFC 2132, 3004, 4578, PXE 2.1, iPXE) and typed views over raw option bytes.
// The codec keeps every option raw (code -> bytes); these accessors read the ones kickstand uses
// and return undefined for an absent or malformed option instead of throwing.

import { intToIp, isIpv4, ipToInt } from './ipv4.js';

export const Opt = {
  Pad: 0,
  SubnetMask: 1,
  Router: 3,
  DomainServer: 6,
  HostName: 12,
  DomainName: 15,
  BroadcastAddress: 28,
  VendorSpecific: 43,
  RequestedIp: 50,
  LeaseTime: 51,
  Overload: 52,
  MessageType: 53,
  ServerId: 54,
  ParameterRequestList: 55,
  Message: 56,
  MaxMessageSize: 57,
  RenewalTime: 58,
  RebindingTime: 59,
  VendorClass: 60,
  ClientId: 61,
  TftpServerName: 66,
  BootfileName: 67,
  UserClass: 77,
  ClientArch: 93,
  ClientNdi: 94,
  ClientUuid: 97,
  Ipxe: 175,
  End: 255,
} as const;

export const MessageType = {
  Discover: 1,
  Offer: 2,
  Request: 3,
  Decline: 4,
  Ack: 5,
  Nak: 6,
  Release: 7,
  Inform: 8,
} as const;
export type MessageTypeCode = (typeof MessageType)[keyof typeof MessageType];

const MESSAGE_NAMES: Record<number, string> = {
  1: 'DISCOVER',
  2: 'OFFER',
  3: 'REQUEST',
  4: 'DECLINE',
  5: 'ACK',
  6: 'NAK',
  7: 'RELEASE',
  8: 'INFORM',
};

export function messageTypeName(code: number | undefined): string {
  return code === undefined ? 'none' : (MESSAGE_NAMES[code] ?? `unknown(${code})`);
}

/** Sub-options of option 43 for PXE clients (PXE specification 2.1, section 2.4). */
export const PxeSubOpt = {
  DiscoveryControl: 6,
  BootServers: 8,
  BootMenu: 9,
  MenuPrompt: 10,
  BootItem: 71,
} as const;

/** PXE_DISCOVERY_CONTROL bit 3: boot the file named in the offer; skip boot server discovery. */
export const PXE_DISCOVERY_USE_BOOTFILE = 0x08;

/** Sub-options of option 175, iPXE's encapsulated options (iPXE include/ipxe/dhcp.h). */
export const IpxeSubOpt = {
  Priority: 1,
  KeepSan: 8,
  SkipSanBoot: 9,
  FeatureHttp: 19,
  FeatureHttps: 20,
  FeatureTftp: 21,
  FeatureDns: 23,
  FeatureBzImage: 24,
  FeaturePxe: 33,
  FeatureEfi: 36,
  NoPxeDhcp: 176,
  BusId: 177,
  Version: 235,
} as const;

/** Raw options in arrival order; a code sent several times is concatenated (RFC 3396). */
export type DhcpOptions = Map<number, Buffer>;

// ---- reading --------------------------------------------------------------------------------

function fixed(options: DhcpOptions, code: number, length: number): Buffer | undefined {
  const value = options.get(code);
  return value !== undefined && value.length === length ? value : undefined;
}

function readIp(bytes: Buffer, offset: number): string {
  return intToIp(bytes.readUInt32BE(offset));
}

function text(options: DhcpOptions, code: number): string | undefined {
  const value = options.get(code);
  if (value === undefined || value.length === 0) return undefined;
  // Some clients NUL-terminate strings; the NUL is not part of the value.
  const end = value.indexOf(0);
  return value.subarray(0, end === -1 ? value.length : end).toString('latin1');
}

function ipList(options: DhcpOptions, code: number): string[] | undefined {
  const value = options.get(code);
  if (value === undefined || value.length === 0 || value.length % 4 !== 0) return undefined;
  const out: string[] = [];
  for (let i = 0; i < value.length; i += 4) out.push(readIp(value, i));
  return out;
}

function u32(options: DhcpOptions, code: number): number | undefined {
  return fixed(options, code, 4)?.readUInt32BE(0);
}

function ip(options: DhcpOptions, code: number): string | undefined {
  const value = fixed(options, code, 4);
  return value === undefined ? undefined : readIp(value, 0);
}

export const read = {
  messageType: (o: DhcpOptions): number | undefined => fixed(o, Opt.MessageType, 1)?.readUInt8(0),
  subnetMask: (o: DhcpOptions) => ip(o, Opt.SubnetMask),
  routers: (o: DhcpOptions) => ipList(o, Opt.Router),
  domainServers: (o: DhcpOptions) => ipList(o, Opt.DomainServer),
  hostName: (o: DhcpOptions) => text(o, Opt.HostName),
  domainName: (o: DhcpOptions) => text(o, Opt.DomainName),
  broadcastAddress: (o: DhcpOptions) => ip(o, Opt.BroadcastAddress),
  requestedIp: (o: DhcpOptions) => ip(o, Opt.RequestedIp),
  leaseTime: (o: DhcpOptions) => u32(o, Opt.LeaseTime),
  renewalTime: (o: DhcpOptions) => u32(o, Opt.RenewalTime),
  rebindingTime: (o: DhcpOptions) => u32(o, Opt.RebindingTime),
  serverId: (o: DhcpOptions) => ip(o, Opt.ServerId),
  message: (o: DhcpOptions) => text(o, Opt.Message),
  parameterRequestList: (o: DhcpOptions): number[] | undefined => {
    const value = o.get(Opt.ParameterRequestList);
    return value === undefined ? undefined : [...value];
  },
  maxMessageSize: (o: DhcpOptions) => fixed(o, Opt.MaxMessageSize, 2)?.readUInt16BE(0),
  vendorClass: (o: DhcpOptions) => text(o, Opt.VendorClass),
  clientId: (o: DhcpOptions) => o.get(Opt.ClientId),
  tftpServerName: (o: DhcpOptions) => text(o, Opt.TftpServerName),
  bootfileName: (o: DhcpOptions) => text(o, Opt.BootfileName),
  userClass: (o: DhcpOptions): string[] | undefined => {
    const value = o.get(Opt.UserClass);
    return value === undefined ? undefined : parseUserClass(value);
  },
  /** Option 93 is a list of 16-bit architecture types (RFC 4578 2.1); firmware sends one. */
  clientArch: (o: DhcpOptions): number[] | undefined => {
    const value = o.get(Opt.ClientArch);
    if (value === undefined || value.length === 0 || value.length % 2 !== 0) return undefined;
    const out: number[] = [];
    for (let i = 0; i < value.length; i += 2) out.push(value.readUInt16BE(i));
    return out;
  },
  /** Option 94: network interface identifier, type 1 (UNDI) plus major and minor version. */
  clientNdi: (o: DhcpOptions): { type: number; major: number; minor: number } | undefined => {
    const value = fixed(o, Opt.ClientNdi, 3);
    return value === undefined ? undefined : { type: value[0]!, major: value[1]!, minor: value[2]! };
  },
  /** Option 97: type 0 followed by a 16-byte machine UUID/GUID (RFC 4578 2.3). */
  clientUuid: (o: DhcpOptions): string | undefined => {
    const value = fixed(o, Opt.ClientUuid, 17);
    if (value === undefined || value[0] !== 0) return undefined;
    return formatUuid(value.subarray(1));
  },
  vendorSpecific: (o: DhcpOptions): Map<number, Buffer> | undefined => {
    const value = o.get(Opt.VendorSpecific);
    return value === undefined ? undefined : parseSubOptions(value);
  },
  ipxe: (o: DhcpOptions): Map<number, Buffer> | undefined => {
    const value = o.get(Opt.Ipxe);
    return value === undefined ? undefined : parseSubOptions(value);
  },
  pxeDiscoveryControl: (o: DhcpOptions): number | undefined => {
    const value = read.vendorSpecific(o)?.get(PxeSubOpt.DiscoveryControl);
    return value !== undefined && value.length === 1 ? value[0] : undefined;
  },
  /** PXE_BOOT_ITEM: present when a PXE client does boot server discovery. */
  pxeBootItem: (o: DhcpOptions): { type: number; layer: number } | undefined => {
    const value = read.vendorSpecific(o)?.get(PxeSubOpt.BootItem);
    return value !== undefined && value.length === 4
      ? { type: value.readUInt16BE(0), layer: value.readUInt16BE(2) }
      : undefined;
  },
  ipxeNoPxeDhcp: (o: DhcpOptions): boolean => {
    const value = read.ipxe(o)?.get(IpxeSubOpt.NoPxeDhcp);
    return value !== undefined && value.length >= 1 && value[0] !== 0;
  },
};

/**
 * Option 77 comes in two shapes: RFC 3004 (a sequence of length-prefixed class names) and the
 * plain string iPXE and many old clients send ("iPXE"). A buffer that does not parse cleanly as
 * RFC 3004 is taken as one plain string.
 */
export function parseUserClass(value: Buffer): string[] {
  if (value.length === 0) return [];
  const items: string[] = [];
  let i = 0;
  while (i < value.length) {
    const len = value[i]!;
    if (len === 0 || i + 1 + len > value.length) return [value.toString('latin1')];
    items.push(value.subarray(i + 1, i + 1 + len).toString('latin1'));
    i += 1 + len;
  }
  return items;
}

/** Sub-options (code, length, value) inside options 43 and 175. Malformed tails are dropped. */
export function parseSubOptions(value: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  let i = 0;
  while (i < value.length) {
    const code = value[i]!;
    if (code === Opt.End) break;
    if (code === Opt.Pad) {
      i += 1;
      continue;
    }
    if (i + 1 >= value.length) break;
    const len = value[i + 1]!;
    if (i + 2 + len > value.length) break;
    out.set(code, Buffer.from(value.subarray(i + 2, i + 2 + len)));
    i += 2 + len;
  }
  return out;
}

/**
 * The machine UUID as dmidecode, iPXE's ${uuid} and host files write it (8-4-4-4-12 lowercase
 * hex). Firmware sends the SMBIOS (2.6+) / EFI GUID bytes, whose first three fields are
 * little-endian: QEMU -uuid 4c4c4544-0042-3510-8052-b7c04f4b4d31 arrives from OVMF and the iPXE
 * ROM as 44454c4c 4200 1035 8052 b7c04f4b4d31.
 */
export function formatUuid(bytes: Buffer): string {
  const hex = (start: number, end: number, swap: boolean) => {
    const part = Buffer.from(bytes.subarray(start, end));
    return (swap ? part.reverse() : part).toString('hex');
  };
  return `${hex(0, 4, true)}-${hex(4, 6, true)}-${hex(6, 8, true)}-${hex(8, 10, false)}-${hex(10, 16, false)}`;
}

// ---- writing --------------------------------------------------------------------------------

export const encode = {
  u8: (value: number): Buffer => Buffer.from([value & 0xff]),
  u16: (value: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(value & 0xffff);
    return b;
  },
  u32: (value: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value >>> 0);
    return b;
  },
  ip: (address: string): Buffer => encode.u32(ipToInt(address)),
  ipList: (addresses: readonly string[]): Buffer =>
    Buffer.concat(addresses.filter(isIpv4).map((a) => encode.ip(a))),
  text: (value: string): Buffer => Buffer.from(value, 'latin1'),
  /** Sub-options followed by an End marker, as PXE firmware expects inside option 43. */
  subOptions: (entries: ReadonlyArray<readonly [number, Buffer]>, withEnd = true): Buffer => {
    const parts: Buffer[] = [];
    for (const [code, value] of entries) parts.push(Buffer.from([code, value.length]), value);
    if (withEnd) parts.push(Buffer.from([Opt.End]));
    return Buffer.concat(parts);
  },
  /** RFC 3004 user class list. */
  userClass: (classes: readonly string[]): Buffer =>
    Buffer.concat(classes.map((c) => Buffer.concat([Buffer.from([c.length]), Buffer.from(c, 'latin1')]))),
};

// BOOTP/DHCP packet codec (RFC 951, RFC 2131, RFC 2132, RFC 3396).
// decodePacket never throws: network input is untrusted, so every defect is an error value.

import { intToIp, ipToInt, ZERO_ADDRESS } from './ipv4.js';
import { Opt, type DhcpOptions } from './options.js';
import { err, ok, type Result } from './result.js';

export const BOOTREQUEST = 1;
export const BOOTREPLY = 2;
export const HTYPE_ETHERNET = 1;
/** Flag bit asking the server to broadcast its reply (RFC 2131 figure 2). */
export const FLAG_BROADCAST = 0x8000;

const HEADER_LENGTH = 236;
const COOKIE_OFFSET = HEADER_LENGTH;
const OPTIONS_OFFSET = COOKIE_OFFSET + 4;
const MAGIC_COOKIE = 0x63825363;
/** RFC 1542: a BOOTP message is at least 300 bytes; some relays and old ROMs drop shorter ones. */
export const MIN_PACKET_LENGTH = 300;
const SNAME = { offset: 44, length: 64 } as const;
const FILE = { offset: 108, length: 128 } as const;

export interface DhcpPacket {
  op: number;
  htype: number;
  hlen: number;
  hops: number;
  xid: number;
  secs: number;
  flags: number;
  ciaddr: string;
  yiaddr: string;
  siaddr: string;
  giaddr: string;
  /** All 16 bytes of the client hardware address field; the first hlen are the address. */
  chaddr: Buffer;
  /** Server host name; empty when the field carries options (overload). */
  sname: string;
  /** Boot file name; empty when the field carries options (overload). */
  file: string;
  options: DhcpOptions;
}

/**
 * Largest message decoded: a jumbo frame's worth. Clients send a few hundred bytes (option 57 asks
 * for at most an MTU); a 64 KiB datagram of repeated options would only cost CPU to join.
 */
export const MAX_MESSAGE_BYTES = 9216;

export type DecodeError =
  | { kind: 'truncated'; length: number }
  | { kind: 'oversized'; length: number }
  | { kind: 'bad-magic-cookie'; cookie: number }
  | { kind: 'bad-hardware-length'; hlen: number }
  | { kind: 'option-overrun'; field: OptionArea; code: number; offset: number }
  | { kind: 'bad-overload'; value: string };

export type OptionArea = 'options' | 'file' | 'sname';

export function describeDecodeError(e: DecodeError): string {
  switch (e.kind) {
    case 'oversized':
      return `${e.length} bytes is more than any DHCP client sends (at most ${MAX_MESSAGE_BYTES})`;
    case 'truncated':
      return `packet of ${e.length} bytes is shorter than a DHCP header (240)`;
    case 'bad-magic-cookie':
      return `magic cookie 0x${e.cookie.toString(16)} is not 0x63825363 (plain BOOTP or garbage)`;
    case 'bad-hardware-length':
      return `hardware address length ${e.hlen} exceeds 16`;
    case 'option-overrun':
      return `option ${e.code} at offset ${e.offset} of the ${e.field} area runs past its end`;
    case 'bad-overload':
      return `option 52 (overload) has invalid value ${e.value}`;
  }
}

/** Parse one option area into `into`; repeated codes are concatenated (RFC 3396). */
function readOptionArea(
  bytes: Buffer,
  area: OptionArea,
  into: DhcpOptions,
): Result<void, DecodeError> {
  let i = 0;
  while (i < bytes.length) {
    const code = bytes[i]!;
    if (code === Opt.End) return ok(undefined);
    if (code === Opt.Pad) {
      i += 1;
      continue;
    }
    if (i + 1 >= bytes.length) return err({ kind: 'option-overrun', field: area, code, offset: i });
    const len = bytes[i + 1]!;
    if (i + 2 + len > bytes.length) return err({ kind: 'option-overrun', field: area, code, offset: i });
    const value = bytes.subarray(i + 2, i + 2 + len);
    const previous = into.get(code);
    into.set(code, previous === undefined ? Buffer.from(value) : Buffer.concat([previous, value]));
    i += 2 + len;
  }
  // A missing End option is tolerated: several PXE ROMs pad with zeros and never write one.
  return ok(undefined);
}

function nulTerminated(bytes: Buffer): string {
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end === -1 ? bytes.length : end).toString('latin1');
}

export function decodePacket(bytes: Buffer): Result<DhcpPacket, DecodeError> {
  if (bytes.length < OPTIONS_OFFSET) return err({ kind: 'truncated', length: bytes.length });
  if (bytes.length > MAX_MESSAGE_BYTES) return err({ kind: 'oversized', length: bytes.length });
  const cookie = bytes.readUInt32BE(COOKIE_OFFSET);
  if (cookie !== MAGIC_COOKIE) return err({ kind: 'bad-magic-cookie', cookie });
  const hlen = bytes[2]!;
  if (hlen > 16) return err({ kind: 'bad-hardware-length', hlen });

  const options: DhcpOptions = new Map();
  const main = readOptionArea(bytes.subarray(OPTIONS_OFFSET), 'options', options);
  if (!main.ok) return main;

  const snameField = bytes.subarray(SNAME.offset, SNAME.offset + SNAME.length);
  const fileField = bytes.subarray(FILE.offset, FILE.offset + FILE.length);
  let fileHoldsOptions = false;
  let snameHoldsOptions = false;

  const overload = options.get(Opt.Overload);
  if (overload !== undefined) {
    if (overload.length !== 1 || overload[0]! < 1 || overload[0]! > 3) {
      return err({ kind: 'bad-overload', value: overload.toString('hex') });
    }
    fileHoldsOptions = (overload[0]! & 1) !== 0;
    snameHoldsOptions = (overload[0]! & 2) !== 0;
    // RFC 2131 4.1: options, then file, then sname. An overload option inside them is ignored.
    if (fileHoldsOptions) {
      const r = readOptionArea(fileField, 'file', options);
      if (!r.ok) return r;
    }
    if (snameHoldsOptions) {
      const r = readOptionArea(snameField, 'sname', options);
      if (!r.ok) return r;
    }
    options.delete(Opt.Overload);
  }

  return ok({
    op: bytes[0]!,
    htype: bytes[1]!,
    hlen,
    hops: bytes[3]!,
    xid: bytes.readUInt32BE(4),
    secs: bytes.readUInt16BE(8),
    flags: bytes.readUInt16BE(10),
    ciaddr: intToIp(bytes.readUInt32BE(12)),
    yiaddr: intToIp(bytes.readUInt32BE(16)),
    siaddr: intToIp(bytes.readUInt32BE(20)),
    giaddr: intToIp(bytes.readUInt32BE(24)),
    chaddr: Buffer.from(bytes.subarray(28, 44)),
    sname: snameHoldsOptions ? '' : nulTerminated(snameField),
    file: fileHoldsOptions ? '' : nulTerminated(fileField),
    options,
  });
}

export type EncodeError = { kind: 'field-too-long'; field: 'sname' | 'file'; length: number; max: number };

/** Options are written with 53 first (some PXE ROMs look only there), the rest in map order. */
function encodeOptions(options: DhcpOptions): Buffer {
  const parts: Buffer[] = [];
  const write = (code: number, value: Buffer): void => {
    // RFC 3396: a value longer than 255 bytes is split into several options with the same code.
    if (value.length === 0) {
      parts.push(Buffer.from([code, 0]));
      return;
    }
    for (let i = 0; i < value.length; i += 255) {
      const chunk = value.subarray(i, Math.min(i + 255, value.length));
      parts.push(Buffer.from([code, chunk.length]), chunk);
    }
  };
  const messageType = options.get(Opt.MessageType);
  if (messageType !== undefined) write(Opt.MessageType, messageType);
  for (const [code, value] of options) {
    if (code === Opt.MessageType || code === Opt.Pad || code === Opt.End || code === Opt.Overload) continue;
    write(code, value);
  }
  parts.push(Buffer.from([Opt.End]));
  return Buffer.concat(parts);
}

function writeText(target: Buffer, field: { offset: number; length: number }, value: string): boolean {
  const bytes = Buffer.from(value, 'latin1');
  // Keep room for the terminating NUL that BOOTP clients expect.
  if (bytes.length >= field.length) return false;
  bytes.copy(target, field.offset);
  return true;
}

export function encodePacket(packet: DhcpPacket): Result<Buffer, EncodeError> {
  const options = encodeOptions(packet.options);
  const length = Math.max(MIN_PACKET_LENGTH, OPTIONS_OFFSET + options.length);
  const out = Buffer.alloc(length);
  out[0] = packet.op & 0xff;
  out[1] = packet.htype & 0xff;
  out[2] = Math.min(packet.hlen, 16) & 0xff;
  out[3] = packet.hops & 0xff;
  out.writeUInt32BE(packet.xid >>> 0, 4);
  out.writeUInt16BE(packet.secs & 0xffff, 8);
  out.writeUInt16BE(packet.flags & 0xffff, 10);
  out.writeUInt32BE(ipToInt(packet.ciaddr), 12);
  out.writeUInt32BE(ipToInt(packet.yiaddr), 16);
  out.writeUInt32BE(ipToInt(packet.siaddr), 20);
  out.writeUInt32BE(ipToInt(packet.giaddr), 24);
  packet.chaddr.subarray(0, 16).copy(out, 28);
  if (!writeText(out, SNAME, packet.sname)) {
    return err({ kind: 'field-too-long', field: 'sname', length: packet.sname.length, max: SNAME.length - 1 });
  }
  if (!writeText(out, FILE, packet.file)) {
    return err({ kind: 'field-too-long', field: 'file', length: packet.file.length, max: FILE.length - 1 });
  }
  out.writeUInt32BE(MAGIC_COOKIE, COOKIE_OFFSET);
  options.copy(out, OPTIONS_OFFSET);
  return ok(out);
}

/** The longest boot file name that fits the BOOTP file field with its NUL. */
export const MAX_FILE_FIELD = FILE.length - 1;

/** Client hardware address as lowercase aa:bb:cc:dd:ee:ff (hlen bytes of chaddr). */
export function clientMac(packet: DhcpPacket): string {
  const len = Math.min(packet.hlen, 16);
  return [...packet.chaddr.subarray(0, len)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function emptyPacket(): DhcpPacket {
  return {
    op: BOOTREQUEST,
    htype: HTYPE_ETHERNET,
    hlen: 6,
    hops: 0,
    xid: 0,
    secs: 0,
    flags: 0,
    ciaddr: ZERO_ADDRESS,
    yiaddr: ZERO_ADDRESS,
    siaddr: ZERO_ADDRESS,
    giaddr: ZERO_ADDRESS,
    chaddr: Buffer.alloc(16),
    sname: '',
    file: '',
    options: new Map(),
  };
}

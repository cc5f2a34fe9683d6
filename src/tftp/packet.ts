// TFTP packet codec (RFC 1350, options RFC 2347). Pure functions: no sockets, no I/O.
// decodePacket never throws on hostile input; it returns an error value instead.

export const Opcode = {
  RRQ: 1,
  WRQ: 2,
  DATA: 3,
  ACK: 4,
  ERROR: 5,
  OACK: 6,
} as const;

export const ErrorCode = {
  NotDefined: 0,
  FileNotFound: 1,
  AccessViolation: 2,
  DiskFull: 3,
  IllegalOperation: 4,
  UnknownTransferId: 5,
  FileExists: 6,
  NoSuchUser: 7,
  OptionRefused: 8,
} as const;

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** One option of a request or OACK, name lower-cased (option names are case-insensitive). */
export interface TftpOption {
  name: string;
  value: string;
}

export interface RequestPacket {
  kind: 'rrq' | 'wrq';
  filename: string;
  /** Lower-cased transfer mode: netascii, octet, mail, or whatever the client sent. */
  mode: string;
  options: TftpOption[];
}
export interface DataPacket {
  kind: 'data';
  block: number;
  payload: Buffer;
}
export interface AckPacket {
  kind: 'ack';
  block: number;
}
export interface ErrorPacket {
  kind: 'error';
  code: number;
  message: string;
}
export interface OackPacket {
  kind: 'oack';
  options: TftpOption[];
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type DecodeResult = { ok: true; packet: TftpPacket } | { ok: false; error: string };

/** A request carries at most this many options; the rest are ignored (they are all unknown anyway). */
const MAX_OPTIONS = 32;
/** Longest error text we put on the wire; firmware prints it, nobody needs more. */
const MAX_ERROR_MESSAGE_BYTES = 255;

/** Reads the NUL-terminated string starting at `start`; `end` is the index after the NUL, or -1 when there is no NUL. */
function readString(buf: Buffer, start: number): { text: string; end: number } {
  const nul = buf.indexOf(0, start);
  if (nul === -1) return { text: '', end: -1 };
  return { text: buf.toString('utf8', start, nul), end: nul + 1 };
}

/**
 * Option pairs after the mode (RRQ/WRQ) or after the opcode (OACK).
 * Lenient on purpose: some PXE ROMs pad requests with NULs and some send a trailing name without
 * value, so an empty name or a missing terminator ends the list instead of failing the packet.
 */
function readOptions(buf: Buffer, start: number): TftpOption[] {
  const options: TftpOption[] = [];
  let offset = start;
  while (offset < buf.length && options.length < MAX_OPTIONS) {
    const name = readString(buf, offset);
    if (name.end === -1 || name.text === '') break;
    const value = readString(buf, name.end);
    if (value.end === -1) break;
    options.push({ name: name.text.toLowerCase(), value: value.text });
    offset = value.end;
  }
  return options;
}

function decodeRequest(buf: Buffer, kind: 'rrq' | 'wrq'): DecodeResult {
  const filename = readString(buf, 2);
  if (filename.end === -1) return { ok: false, error: 'request without NUL-terminated filename' };
  if (filename.text === '') return { ok: false, error: 'request with empty filename' };
  const mode = readString(buf, filename.end);
  if (mode.end === -1) return { ok: false, error: 'request without NUL-terminated mode' };
  return {
    ok: true,
    packet: { kind, filename: filename.text, mode: mode.text.toLowerCase(), options: readOptions(buf, mode.end) },
  };
}

export function decodePacket(buf: Buffer): DecodeResult {
  if (buf.length < 2) return { ok: false, error: `datagram of ${buf.length} byte(s) is too short` };
  const opcode = buf.readUInt16BE(0);
  switch (opcode) {
    case Opcode.RRQ:
      return decodeRequest(buf, 'rrq');
    case Opcode.WRQ:
      return decodeRequest(buf, 'wrq');
    case Opcode.DATA:
      if (buf.length < 4) return { ok: false, error: 'DATA shorter than 4 bytes' };
      return { ok: true, packet: { kind: 'data', block: buf.readUInt16BE(2), payload: buf.subarray(4) } };
    case Opcode.ACK:
      // Trailing bytes are tolerated: a few clients pad small datagrams.
      if (buf.length < 4) return { ok: false, error: 'ACK shorter than 4 bytes' };
      return { ok: true, packet: { kind: 'ack', block: buf.readUInt16BE(2) } };
    case Opcode.ERROR: {
      if (buf.length < 4) return { ok: false, error: 'ERROR shorter than 4 bytes' };
      const nul = buf.indexOf(0, 4);
      const message = buf.toString('utf8', 4, nul === -1 ? buf.length : nul);
      return { ok: true, packet: { kind: 'error', code: buf.readUInt16BE(2), message } };
    }
    case Opcode.OACK:
      return { ok: true, packet: { kind: 'oack', options: readOptions(buf, 2) } };
    default:
      return { ok: false, error: `unknown opcode ${opcode}` };
  }
}

function encodeStrings(opcode: number, strings: readonly string[]): Buffer {
  const parts = strings.map((s) => Buffer.from(s, 'utf8'));
  const size = 2 + parts.reduce((sum, part) => sum + part.length + 1, 0);
  const buf = Buffer.alloc(size);
  buf.writeUInt16BE(opcode, 0);
  let offset = 2;
  for (const part of parts) {
    part.copy(buf, offset);
    offset += part.length + 1; // the NUL is already there: Buffer.alloc zero-fills
  }
  return buf;
}

export function encodeRequest(kind: 'rrq' | 'wrq', filename: string, mode: string, options: readonly TftpOption[] = []): Buffer {
  const fields = [filename, mode];
  for (const option of options) fields.push(option.name, option.value);
  return encodeStrings(kind === 'rrq' ? Opcode.RRQ : Opcode.WRQ, fields);
}

export function encodeOack(options: readonly TftpOption[]): Buffer {
  return encodeStrings(
    Opcode.OACK,
    options.flatMap((option) => [option.name, option.value]),
  );
}

export function encodeAck(block: number): Buffer {
  const buf = Buffer.alloc(4);
  buf.writeUInt16BE(Opcode.ACK, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  return buf;
}

export function encodeData(block: number, payload: Uint8Array): Buffer {
  const buf = Buffer.allocUnsafe(4 + payload.length);
  buf.writeUInt16BE(Opcode.DATA, 0);
  buf.writeUInt16BE(block & 0xffff, 2);
  buf.set(payload, 4);
  return buf;
}

export function encodeError(code: number, message: string): Buffer {
  // A NUL inside the text would end it early on the wire.
  let text = Buffer.from(message.replaceAll('\0', ' '), 'utf8');
  if (text.length > MAX_ERROR_MESSAGE_BYTES) text = text.subarray(0, MAX_ERROR_MESSAGE_BYTES);
  const buf = Buffer.alloc(4 + text.length + 1);
  buf.writeUInt16BE(Opcode.ERROR, 0);
  buf.writeUInt16BE(code & 0xffff, 2);
  text.copy(buf, 4);
  return buf;
}

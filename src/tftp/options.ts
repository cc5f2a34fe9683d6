// Option negotiation for a read request: blksize (RFC 2348), tsize and timeout (RFC 2349),
// windowsize (RFC 7440). Unknown or unacceptable options are left out of the OACK instead of
// failing the request (RFC 2347: the client then falls back to the default for that option).
import type { TftpOption } from './packet.js';

export const DEFAULT_BLKSIZE = 512;
/** RFC 2348 bounds for the value a client may ask for. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** 1500-byte Ethernet MTU minus IP (20), UDP (8) and TFTP (4) headers: never fragments on a LAN. */
export const SAFE_LAN_BLKSIZE = 1468;

export interface OptionLimits {
  /** Largest block size granted to this peer (clients asking more get this value in the OACK). */
  maxBlksize: number;
  /** Largest window granted. */
  maxWindowsize: number;
  /** Cap on blksize * windowsize so one window fits in a client's default socket receive buffer. */
  maxWindowBytes: number;
}

export interface NegotiatedOptions {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout asked by the client (`timeout` option), or undefined for the server default. */
  timeoutMs: number | undefined;
  /** Options to acknowledge, in the client's order; empty means no OACK: the transfer starts with DATA 1. */
  accepted: TftpOption[];
}

/** A plain decimal integer, or undefined for anything else ("", "-1", "1e3", "0x10", absurdly long). */
function parseDecimal(value: string): number | undefined {
  if (!/^[0-9]{1,10}$/.test(value)) return undefined;
  return Number(value);
}

export function negotiateOptions(requested: readonly TftpOption[], fileSize: number, limits: OptionLimits): NegotiatedOptions {
  const result: NegotiatedOptions = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: undefined, accepted: [] };
  const seen = new Set<string>();
  let requestedWindowsize: number | undefined;
  for (const { name, value } of requested) {
    if (seen.has(name)) continue; // first occurrence wins
    seen.add(name);
    const n = parseDecimal(value);
    if (n === undefined) continue;
    switch (name) {
      case 'blksize':
        if (n < MIN_BLKSIZE) continue;
        result.blksize = Math.min(n, limits.maxBlksize, MAX_BLKSIZE);
        result.accepted.push({ name, value: String(result.blksize) });
        break;
      case 'tsize':
        // In a read request the client sends 0 and expects the real size back. Except for an empty
        // file: curl rejects "tsize 0" in an OACK as invalid, so the option is left unanswered.
        if (fileSize > 0) result.accepted.push({ name, value: String(fileSize) });
        break;
      case 'timeout':
        // RFC 2349: the server may not change the value, only accept or ignore it.
        if (n < 1 || n > 255) continue;
        result.timeoutMs = n * 1000;
        result.accepted.push({ name, value: String(n) });
        break;
      case 'windowsize':
        if (n < 1 || n > 65535) continue;
        requestedWindowsize = n;
        // Value filled in below, once blksize is known (it may come later in the request).
        result.accepted.push({ name, value: '' });
        break;
      default:
        break;
    }
  }
  if (requestedWindowsize !== undefined) {
    const byBytes = Math.max(1, Math.floor(limits.maxWindowBytes / result.blksize));
    result.windowsize = Math.min(requestedWindowsize, limits.maxWindowsize, byBytes);
    const option = result.accepted.find((o) => o.name === 'windowsize');
    if (option) option.value = String(result.windowsize);
  }
  return result;
}

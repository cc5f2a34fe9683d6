// The sending side of one read transfer, as a socket-free state machine: events in (a packet from
// the peer, the retransmission timer firing), actions out (send these bytes, arm the timer, finish).
//
// Blocks are counted internally as absolute numbers 1..totalBlocks and put on the wire modulo
// 65536, so files larger than 65535 blocks roll over to block 0 (what tftp-hpa, curl and iPXE expect).
import type { FileContent } from './content.js';
import { dataHeader, ErrorCode, encodeError, type TftpPacket } from './packet.js';

export type TransferOutcome =
  | { ok: true; bytes: number }
  | {
      ok: false;
      /**
       * timeout: the peer went silent; peer-error: the peer sent ERROR mid-transfer;
       * size-probe: the peer ended the transfer right after the OACK (UEFI asks tsize this way).
       */
      reason: 'timeout' | 'peer-error' | 'size-probe';
      bytes: number;
      detail: string;
    };

export type TransferAction =
  | { kind: 'send'; bytes: Buffer | Buffer[] }
  | { kind: 'arm-timer'; ms: number }
  | { kind: 'finish'; outcome: TransferOutcome };

export interface TransferSettings {
  content: FileContent;
  blksize: number;
  windowsize: number;
  /** Time without progress before the current window (or OACK) is sent again. */
  timeoutMs: number;
  /** Retransmissions of one window before giving up. */
  maxRetries: number;
  /** The encoded OACK to send first, or undefined to start with DATA 1 (no option accepted). */
  oack: Buffer | undefined;
}

type Phase = 'awaiting-oack-ack' | 'sending' | 'finished';

const NO_ACTIONS: readonly TransferAction[] = Object.freeze([]);

export class ReadTransfer {
  private phase: Phase;
  /** Highest block the peer acknowledged (absolute). */
  private acked = 0;
  /** Highest block sent in the current window (absolute). */
  private sentUpTo = 0;
  private retries = 0;
  readonly totalBlocks: number;

  constructor(private readonly settings: TransferSettings) {
    // A file of exactly N blocks still ends with an empty block, so the client knows it is over.
    this.totalBlocks = Math.floor(settings.content.size / settings.blksize) + 1;
    this.phase = settings.oack ? 'awaiting-oack-ack' : 'sending';
  }

  get finished(): boolean {
    return this.phase === 'finished';
  }

  /** Bytes the peer has acknowledged so far. */
  get bytesAcknowledged(): number {
    return Math.min(this.acked * this.settings.blksize, this.settings.content.size);
  }

  start(): readonly TransferAction[] {
    if (this.phase === 'awaiting-oack-ack' && this.settings.oack) {
      return [{ kind: 'send', bytes: this.settings.oack }, { kind: 'arm-timer', ms: this.retransmitInterval() }];
    }
    return this.sendWindow();
  }

  /**
   * The negotiated timeout, doubled per retransmission in a row up to 8x. Some clients (atftp)
   * ignore copies of a block they already have and re-ACK only after their own, longer timeout:
   * resending at a fixed 1 s would keep them silent until the server gives up.
   */
  private retransmitInterval(): number {
    return this.settings.timeoutMs * 2 ** Math.min(this.retries, 3);
  }

  receive(packet: TftpPacket): readonly TransferAction[] {
    if (packet.kind === 'ack') return this.receiveAck(packet.block);
    if (packet.kind === 'error') return this.receiveError(packet.code, packet.message);
    return NO_ACTIONS; // DATA, requests or OACK from our peer make no sense here: ignore them
  }

  /** Fast path for the packet that arrives once per window; `block` is the 16-bit wire number. */
  receiveAck(block: number): readonly TransferAction[] {
    if (this.phase === 'awaiting-oack-ack') {
      if (block !== 0) return NO_ACTIONS;
      this.phase = 'sending';
      this.retries = 0;
      return this.sendWindow();
    }
    if (this.phase !== 'sending') return NO_ACTIONS;
    // How far past the last acknowledged block this ACK reaches, modulo the 16-bit wrap.
    const advance = (block - (this.acked & 0xffff)) & 0xffff;
    // 0: a duplicate ACK. Resending on it would double every later packet (the Sorcerer's
    // Apprentice bug, RFC 1123 4.2.3.1); only the timer resends. Beyond sentUpTo: stale or bogus.
    if (advance === 0 || advance > this.sentUpTo - this.acked) return NO_ACTIONS;
    this.acked += advance;
    this.retries = 0;
    if (this.acked === this.totalBlocks) {
      this.phase = 'finished';
      return [{ kind: 'finish', outcome: { ok: true, bytes: this.settings.content.size } }];
    }
    // RFC 7440: an ACK inside the window means the peer has everything up to it; the next window
    // starts right after, including blocks of the old window it did not get.
    return this.sendWindow();
  }

  timerFired(): readonly TransferAction[] {
    if (this.phase === 'finished') return NO_ACTIONS;
    this.retries++;
    if (this.retries > this.settings.maxRetries) {
      this.phase = 'finished';
      const detail =
        this.acked + 1 === this.totalBlocks && this.sentUpTo === this.totalBlocks
          ? 'no ACK for the last block (the client may have the whole file)'
          : `no answer after ${this.settings.maxRetries} retransmissions`;
      return [
        { kind: 'send', bytes: encodeError(ErrorCode.NotDefined, 'Timed out') },
        { kind: 'finish', outcome: { ok: false, reason: 'timeout', bytes: this.bytesAcknowledged, detail } },
      ];
    }
    if (this.phase === 'awaiting-oack-ack' && this.settings.oack) {
      return [{ kind: 'send', bytes: this.settings.oack }, { kind: 'arm-timer', ms: this.retransmitInterval() }];
    }
    return this.sendWindow();
  }

  private receiveError(code: number, message: string): readonly TransferAction[] {
    if (this.phase === 'finished') return NO_ACTIONS;
    const probe = this.phase === 'awaiting-oack-ack';
    this.phase = 'finished';
    const detail = `client sent ERROR ${code}${message ? ` (${message})` : ''}`;
    return [
      {
        kind: 'finish',
        outcome: { ok: false, reason: probe ? 'size-probe' : 'peer-error', bytes: this.bytesAcknowledged, detail },
      },
    ];
  }

  /** Sends blocks acked+1 .. acked+windowsize (fewer at the end of the file) and arms the timer. */
  private sendWindow(): TransferAction[] {
    const { content, blksize, windowsize } = this.settings;
    const last = Math.min(this.acked + windowsize, this.totalBlocks);
    const actions: TransferAction[] = [];
    for (let block = this.acked + 1; block <= last; block++) {
      const offset = (block - 1) * blksize;
      const length = Math.min(blksize, content.size - offset);
      actions.push({ kind: 'send', bytes: [dataHeader(block), content.read(offset, length)] });
    }
    this.sentUpTo = last;
    actions.push({ kind: 'arm-timer', ms: this.retransmitInterval() });
    return actions;
  }
}

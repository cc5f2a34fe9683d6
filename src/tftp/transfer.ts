// The decisions of one read transfer, as a socket-free state machine: events in (an ACK of the
// OACK, an ERROR, the DATA phase done, the retransmission timer firing), actions out (send these
// bytes, start or resend the DATA window, arm the timer, finish).
//
// The DATA phase itself (which blocks a window holds, how an ACK moves it, the 16-bit block
// number wrap, ignoring duplicate ACKs) runs in the transfer socket's data pump
// (src/tftp/native/udp_transfer.c), so that an ACK is answered without a trip into JavaScript.
// This machine learns the pump's progress when its timer fires and decides whether to wait, resend
// or give up.
import { ErrorCode, encodeError, type TftpPacket } from './packet.js';

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
  | { kind: 'send'; bytes: Buffer }
  /** The DATA phase begins: the data pump sends the first window and answers ACKs from here on. */
  | { kind: 'start-data' }
  /** The current window goes again. */
  | { kind: 'resend-window' }
  | { kind: 'arm-timer'; ms: number }
  | { kind: 'finish'; outcome: TransferOutcome };

/** Where the data pump stands, as the socket reports it. */
export interface DataProgress {
  /** Blocks acknowledged (absolute, not modulo 65536). */
  acked: number;
  /** Milliseconds since the current window last left. */
  msSinceWindowSent: number;
}

export interface TransferSettings {
  /** Bytes in the file. */
  size: number;
  blksize: number;
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
  /** Highest block the peer acknowledged, as last reported by the pump. */
  private acked = 0;
  private msSinceWindowSent = 0;
  private retries = 0;
  readonly totalBlocks: number;

  constructor(private readonly settings: TransferSettings) {
    // A file of exactly N blocks still ends with an empty block, so the client knows it is over.
    this.totalBlocks = Math.floor(settings.size / settings.blksize) + 1;
    this.phase = settings.oack ? 'awaiting-oack-ack' : 'sending';
  }

  get finished(): boolean {
    return this.phase === 'finished';
  }

  /** Bytes the peer has acknowledged so far. */
  get bytesAcknowledged(): number {
    return Math.min(this.acked * this.settings.blksize, this.settings.size);
  }

  start(): readonly TransferAction[] {
    if (this.phase === 'awaiting-oack-ack' && this.settings.oack) {
      return [{ kind: 'send', bytes: this.settings.oack }, { kind: 'arm-timer', ms: this.retransmitInterval() }];
    }
    return [{ kind: 'start-data' }, { kind: 'arm-timer', ms: this.retransmitInterval() }];
  }

  /**
   * The negotiated timeout, doubled per retransmission in a row up to 8x. Some clients (atftp)
   * ignore copies of a block they already have and re-ACK only after their own, longer timeout:
   * resending at a fixed 1 s would keep them silent until the server gives up.
   */
  private retransmitInterval(): number {
    return this.settings.timeoutMs * 2 ** Math.min(this.retries, 3);
  }

  /** What the data pump reports; any new acknowledgement resets the retry count. */
  progress(progress: DataProgress): void {
    if (progress.acked > this.acked) {
      this.acked = progress.acked;
      this.retries = 0;
    }
    this.msSinceWindowSent = progress.msSinceWindowSent;
  }

  receive(packet: TftpPacket): readonly TransferAction[] {
    if (packet.kind === 'ack') return this.receiveAck(packet.block);
    if (packet.kind === 'error') return this.receiveError(packet.code, packet.message);
    return NO_ACTIONS; // DATA, requests or OACK from our peer make no sense here: ignore them
  }

  /** An ACK that the data pump did not take: before the DATA phase only ACK 0 (of the OACK) counts. */
  receiveAck(block: number): readonly TransferAction[] {
    if (this.phase !== 'awaiting-oack-ack' || block !== 0) return NO_ACTIONS;
    this.phase = 'sending';
    this.retries = 0;
    return [{ kind: 'start-data' }, { kind: 'arm-timer', ms: this.retransmitInterval() }];
  }

  /** The data pump saw the last block acknowledged. */
  dataDone(): readonly TransferAction[] {
    if (this.phase !== 'sending') return NO_ACTIONS;
    this.phase = 'finished';
    this.acked = this.totalBlocks;
    return [{ kind: 'finish', outcome: { ok: true, bytes: this.settings.size } }];
  }

  timerFired(): readonly TransferAction[] {
    if (this.phase === 'finished') return NO_ACTIONS;
    // The current window is younger than the interval (the pump moved on, or a backed-off resend
    // is not due yet): look again when it is due, but no later than one base timeout from now, so
    // that a window lost right after progress is resent after 1x, not after a backed-off 8x.
    const interval = this.retransmitInterval();
    if (this.phase === 'sending' && this.msSinceWindowSent < interval) {
      return [{ kind: 'arm-timer', ms: Math.min(interval - this.msSinceWindowSent, this.settings.timeoutMs) }];
    }
    this.retries++;
    if (this.retries > this.settings.maxRetries) {
      const detail =
        this.phase === 'sending' && this.acked + 1 === this.totalBlocks
          ? 'no ACK for the last block (the client may have the whole file)'
          : `no answer after ${this.settings.maxRetries} retransmissions`;
      this.phase = 'finished';
      return [
        { kind: 'send', bytes: encodeError(ErrorCode.NotDefined, 'Timed out') },
        { kind: 'finish', outcome: { ok: false, reason: 'timeout', bytes: this.bytesAcknowledged, detail } },
      ];
    }
    if (this.phase === 'awaiting-oack-ack' && this.settings.oack) {
      return [{ kind: 'send', bytes: this.settings.oack }, { kind: 'arm-timer', ms: this.retransmitInterval() }];
    }
    return [{ kind: 'resend-window' }, { kind: 'arm-timer', ms: this.settings.timeoutMs }];
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
}

// Runs one ReadTransfer on its own ephemeral UDP socket: the socket's port is the server's
// transfer ID (RFC 1350), so only the peer that asked may drive the transfer. The socket is the
// native one from udp-native.ts, whose data pump answers ACKs with DATA without calling in here.
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import type { FileContent } from './content.js';
import { decodePacket, encodeError, ErrorCode, Opcode } from './packet.js';
import type { ReadTransfer, TransferAction, TransferOutcome } from './transfer.js';
import { type NativeTransferSocket, openNativeTransferSocket } from './udp-native.js';

/** The part of a logger a transfer uses: a pino Logger, or a proxy posting to the main thread. */
export interface TransferLog {
  debug(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

export interface Peer {
  address: string;
  port: number;
}

/** How a transfer ended: what the state machine decided, or what the socket layer had to do. */
export type TransferEnd =
  | TransferOutcome
  | { ok: false; reason: 'shutdown' | 'socket-error' | 'internal-error'; bytes: number; detail: string };

export interface TransferSocketParams {
  /** Local address to bind, normally the address the request arrived on, so replies come from it. */
  bindAddress: string;
  peer: Peer;
  transfer: ReadTransfer;
  /** What the DATA phase sends, handed to the socket's data pump. */
  data: { content: FileContent; blksize: number; windowsize: number };
  log: TransferLog;
  /** Called exactly once, after the socket is closed and the timer cleared. */
  onEnd: (end: TransferEnd) => void;
}

/** What a failed file read hands the data pump, which by then sees the transfer ended. */
const EMPTY = Buffer.alloc(0);

/**
 * Send errors that lose one datagram, as the network could: the retransmission timer covers them.
 * ENOBUFS/EAGAIN: socket or device queue full under a burst; ECONNREFUSED/EHOSTUNREACH: an ICMP
 * report for an earlier datagram, which a peer that is really gone turns into a timeout anyway.
 */
const TRANSIENT_SEND_ERRORS = new Set([constants.errno.EAGAIN, constants.errno.ENOBUFS, constants.errno.ECONNREFUSED, constants.errno.EHOSTUNREACH, constants.errno.ENETUNREACH]);

export class TransferSocket {
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private ended = false;

  private constructor(
    private readonly params: TransferSocketParams,
    private readonly socket: NativeTransferSocket,
  ) {}

  /** Binds a socket to an ephemeral port; throws when binding fails. */
  static open(params: TransferSocketParams): TransferSocket {
    let transferSocket: TransferSocket | undefined;
    const socket = openNativeTransferSocket(params.bindAddress, params.peer, {
      onAck: (block) => transferSocket?.onAck(block),
      onDatagram: (bytes, address, port) => transferSocket?.onDatagram(bytes, { address, port }),
    });
    transferSocket = new TransferSocket(params, socket);
    return transferSocket;
  }

  get localPort(): number {
    return this.socket.localPort;
  }

  start(): void {
    this.guarded(() => this.params.transfer.start());
  }

  /** Ends the transfer now (server shutting down), telling the peer. */
  abort(detail: string): Promise<void> {
    if (!this.ended) {
      this.sendToPeer(encodeError(ErrorCode.NotDefined, detail));
      this.end({ ok: false, reason: 'shutdown', bytes: this.bytesAcknowledged(), detail });
    }
    return Promise.resolve();
  }

  private onAck(block: number): void {
    this.guarded(() => this.params.transfer.receiveAck(block));
  }

  private onDatagram(message: Buffer, from: Peer): void {
    const { peer, transfer, log } = this.params;
    if (from.port !== peer.port || from.address !== peer.address) {
      this.answerStranger(message, from);
      return;
    }
    const decoded = decodePacket(message);
    if (!decoded.ok) {
      log.debug({ bytes: message.length, error: decoded.error }, 'malformed packet from peer dropped');
      return;
    }
    if (decoded.packet.kind !== 'error') log.debug({ kind: decoded.packet.kind }, 'unexpected packet from peer ignored');
    this.guarded(() => transfer.receive(decoded.packet));
  }

  /** RFC 1350: a packet from another address or port gets ERROR 5 and does not disturb the transfer. */
  private answerStranger(message: Buffer, stranger: Peer): void {
    if (this.ended) return;
    this.params.log.debug({ stranger: `${stranger.address}:${stranger.port}` }, 'packet from unknown transfer ID');
    // Never answer an ERROR with an ERROR: two servers could bounce them forever.
    if (message.length >= 2 && message[0] === 0 && message[1] === Opcode.ERROR) return;
    this.socket.sendTo(encodeError(ErrorCode.UnknownTransferId, 'Unknown transfer ID'), stranger.address, stranger.port);
  }

  /** Feeds an event to the state machine and carries out its actions; a bug ends this transfer only. */
  private guarded(step: () => readonly TransferAction[]): void {
    if (this.ended) return;
    try {
      this.params.transfer.progress(this.socket.pumpProgress());
      this.perform(step());
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.ended) return;
    this.params.log.error({ err: error }, 'TFTP transfer failed');
    this.sendToPeer(encodeError(ErrorCode.NotDefined, 'Internal server error'));
    this.end({ ok: false, reason: 'internal-error', bytes: this.bytesAcknowledged(), detail: (error as Error).message });
  }

  private perform(actions: readonly TransferAction[]): void {
    for (const action of actions) {
      if (this.ended) return;
      switch (action.kind) {
        case 'send':
          this.sendToPeer(action.bytes);
          break;
        case 'start-data':
          this.startPump();
          break;
        case 'resend-window':
          this.params.log.debug({ bytes: this.params.transfer.bytesAcknowledged }, 'no ACK in time, resending');
          this.socket.resendWindow();
          break;
        case 'arm-timer':
          this.armTimer(action.ms);
          break;
        case 'finish':
          this.end(action.outcome);
          break;
      }
    }
  }

  private startPump(): void {
    const { content, blksize, windowsize } = this.params.data;
    this.socket.startPump({
      size: content.size,
      blksize,
      windowsize,
      bytesFrom: (offset, length) => {
        try {
          return content.bytesFrom(offset, length);
        } catch (error) {
          this.fail(error); // a file that shrank or became unreadable ends this transfer only
          return EMPTY;
        }
      },
      onDone: () => this.guarded(() => this.params.transfer.dataDone()),
      onSendError: (errno) => this.checkSent(errno),
    });
  }

  private sendToPeer(bytes: Buffer): void {
    this.checkSent(this.socket.send(bytes));
  }

  private checkSent(errno: number): void {
    if (errno === 0 || TRANSIENT_SEND_ERRORS.has(errno) || this.ended) return;
    const detail = `send to ${this.params.peer.address}:${this.params.peer.port} failed: ${getSystemErrorName(-errno)}`;
    this.end({ ok: false, reason: 'socket-error', bytes: this.bytesAcknowledged(), detail });
  }

  private bytesAcknowledged(): number {
    this.params.transfer.progress(this.socket.pumpProgress());
    return this.params.transfer.bytesAcknowledged;
  }

  private armTimer(ms: number): void {
    // refresh() re-arms the same timer without allocating: this runs once per window.
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => this.guarded(() => this.params.transfer.timerFired()), ms);
  }

  private end(end: TransferEnd): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.socket.close();
    // Reported on a later tick, as a closed socket would be, so onEnd never runs inside the caller's step.
    queueMicrotask(() => this.params.onEnd(end));
  }
}

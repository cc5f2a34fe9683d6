// Runs one ReadTransfer on its own ephemeral UDP socket: the socket's port is the server's
// transfer ID (RFC 1350), so only the peer that asked may drive the transfer.
import { createSocket, type RemoteInfo, type Socket, type SocketType } from 'node:dgram';
import { decodePacket, encodeError, ErrorCode, Opcode, peekAckBlock } from './packet.js';
import type { ReadTransfer, TransferAction, TransferOutcome } from './transfer.js';

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
  socketType: SocketType;
  /** Local address to bind, normally the address the request arrived on, so replies come from it. */
  bindAddress: string;
  peer: Peer;
  transfer: ReadTransfer;
  log: TransferLog;
  /** Called exactly once, after the socket is closed and the timer cleared. */
  onEnd: (end: TransferEnd) => void;
}

/**
 * Addresses given to send() are always IP literals, so skip dns.lookup: for a literal it still
 * defers every send by one tick, which is measurable at tens of thousands of packets per second.
 */
function literalLookup(family: 4 | 6) {
  return (hostname: string, _options: unknown, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void) =>
    callback(null, hostname, family);
}

export class TransferSocket {
  private readonly socket: Socket;
  private timer: NodeJS.Timeout | undefined;
  private timerMs = 0;
  private ended = false;
  private readonly closed: Promise<void>;

  private constructor(private readonly params: TransferSocketParams) {
    this.socket = createSocket({
      type: params.socketType,
      lookup: literalLookup(params.socketType === 'udp6' ? 6 : 4) as never,
    });
    this.closed = new Promise((resolve) => this.socket.once('close', resolve));
  }

  /** Creates the socket and binds it to an ephemeral port; rejects when binding fails. */
  static async open(params: TransferSocketParams): Promise<TransferSocket> {
    const transferSocket = new TransferSocket(params);
    await transferSocket.bind();
    return transferSocket;
  }

  private bind(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onError = (error: Error) => {
        this.socket.close();
        reject(error);
      };
      this.socket.once('error', onError);
      // exclusive: under node:cluster a non-exclusive bind would be shared with other workers.
      this.socket.bind({ port: 0, address: this.params.bindAddress, exclusive: true }, () => {
        this.socket.off('error', onError);
        this.socket.on('error', (error) => this.end({ ok: false, reason: 'socket-error', bytes: this.params.transfer.bytesAcknowledged, detail: error.message }));
        this.socket.on('message', (message, rinfo) => this.onMessage(message, rinfo));
        resolve();
      });
    });
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  start(): void {
    this.guarded(() => this.params.transfer.start());
  }

  /** Ends the transfer now (server shutting down), telling the peer; resolves once the socket is closed. */
  abort(detail: string): Promise<void> {
    if (!this.ended) {
      this.sendToPeer(encodeError(ErrorCode.NotDefined, detail));
      this.end({ ok: false, reason: 'shutdown', bytes: this.params.transfer.bytesAcknowledged, detail });
    }
    return this.closed;
  }

  private onMessage(message: Buffer, rinfo: RemoteInfo): void {
    const { peer, transfer, log } = this.params;
    if (rinfo.port !== peer.port || rinfo.address !== peer.address) {
      this.answerStranger(message, rinfo);
      return;
    }
    const ackBlock = peekAckBlock(message);
    if (ackBlock >= 0) {
      this.guarded(() => transfer.receiveAck(ackBlock));
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
  private answerStranger(message: Buffer, rinfo: RemoteInfo): void {
    this.params.log.debug({ stranger: `${rinfo.address}:${rinfo.port}` }, 'packet from unknown transfer ID');
    // Never answer an ERROR with an ERROR: two servers could bounce them forever.
    if (message.length >= 2 && message[0] === 0 && message[1] === Opcode.ERROR) return;
    this.socket.send(encodeError(ErrorCode.UnknownTransferId, 'Unknown transfer ID'), rinfo.port, rinfo.address);
  }

  /** Feeds an event to the state machine and carries out its actions; a bug ends this transfer only. */
  private guarded(step: () => readonly TransferAction[]): void {
    if (this.ended) return;
    try {
      this.perform(step());
    } catch (error) {
      this.params.log.error({ err: error }, 'TFTP transfer failed');
      this.sendToPeer(encodeError(ErrorCode.NotDefined, 'Internal server error'));
      this.end({ ok: false, reason: 'internal-error', bytes: this.params.transfer.bytesAcknowledged, detail: (error as Error).message });
    }
  }

  private perform(actions: readonly TransferAction[]): void {
    for (const action of actions) {
      switch (action.kind) {
        case 'send':
          this.sendToPeer(action.bytes);
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

  private sendToPeer(bytes: Buffer | Buffer[]): void {
    // No callback: a send error surfaces as the socket's 'error' event, handled in bind().
    this.socket.send(bytes, this.params.peer.port, this.params.peer.address);
  }

  private armTimer(ms: number): void {
    // refresh() re-arms the same timer without allocating: this runs once per window.
    if (this.timer && this.timerMs === ms) {
      this.timer.refresh();
      return;
    }
    clearTimeout(this.timer);
    this.timerMs = ms;
    this.timer = setTimeout(() => {
      this.params.log.debug({ bytes: this.params.transfer.bytesAcknowledged }, 'no ACK in time, resending');
      this.guarded(() => this.params.transfer.timerFired());
    }, ms);
  }

  private end(end: TransferEnd): void {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    // A send still queued in libuv is cancelled by close(); at this point that can only be an
    // advisory ERROR to a peer that stopped answering.
    this.socket.close();
    void this.closed.then(() => this.params.onEnd(end));
  }
}

// Loads the compiled socket addon (src/tftp/native, built by `npm run build:native`): TFTP's
// transfer sockets and its listener.
// It is found from the sources (tsx), from dist/ and from the benchmark's build alike, because
// every one of them lives below the package root that holds src/tftp/native/build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The DATA phase of a read transfer, handed to the socket's data pump. */
export interface DataPumpSpec {
  /** Bytes in the file. */
  size: number;
  blksize: number;
  windowsize: number;
  /**
   * The file's bytes from `offset`, at least `length` of them; more is better (the pump keeps the
   * buffer and asks again only past its end). Must not throw: end the transfer instead.
   */
  bytesFrom(offset: number, length: number): Buffer;
  /** The peer acknowledged the last block. */
  onDone(): void;
  /** A DATA send failed with this errno; the pump goes on unless the transfer is ended. */
  onSendError(errno: number): void;
}

export interface DataPumpProgress {
  /** Blocks the peer has acknowledged (absolute, not modulo 65536). */
  acked: number;
  /** Milliseconds since the current window last left (0 before the pump starts). */
  msSinceWindowSent: number;
}

/** A transfer's UDP socket, as the addon exposes it. Sends return 0 or an errno, never throw. */
export interface NativeTransferSocket {
  readonly localPort: number;
  /** One datagram to the peer (OACK, ERROR). */
  send(bytes: Buffer): number;
  /** One datagram to another address (ERROR 5 to a stranger), from the transfer's port. */
  sendTo(bytes: Buffer, address: string, port: number): number;
  /**
   * Sends the first window; from then on every ACK from the peer that moves the window forward
   * is answered with the next window inside the addon (UDP GSO for windows of several blocks),
   * and such ACKs no longer reach onAck. Once per socket.
   */
  startPump(spec: DataPumpSpec): void;
  /** Sends the current window again (the retransmission timer fired). */
  resendWindow(): void;
  pumpProgress(): DataPumpProgress;
  /** Idempotent; nothing is delivered after it. */
  close(): void;
}

export interface NativeTransferCallbacks {
  /** An ACK from the peer while no data pump runs (the ACK of an OACK). */
  onAck(block: number): void;
  /** Any other datagram, from the peer or from anyone else. */
  onDatagram(bytes: Buffer, address: string, port: number): void;
}

/** A datagram that came to the listener; `localAddress` is the address it was sent to ('' when the kernel did not say). */
export type ListenerDatagramHandler = (bytes: Buffer, address: string, port: number, localAddress: string) => void;

/** The well-known port's socket. Sends return 0 or an errno, never throw. */
export interface NativeListenerSocket {
  readonly localPort: number;
  /**
   * One datagram from the listener's port, with `fromAddress` as its source (the address the
   * request was sent to, so a wildcard listener answers from the address the client asked);
   * '' lets the kernel choose.
   */
  sendTo(bytes: Buffer, address: string, port: number, fromAddress: string): number;
  /** Idempotent; nothing is delivered after it. */
  close(): void;
}

type Handle = { readonly __brand: 'udp_transfer' };
interface Addon {
  open(bindAddress: string, peerAddress: string, peerPort: number, onAck: (block: number) => void, onDatagram: (bytes: Buffer, address: string, port: number) => void): [Handle, number];
  listen(address: string, port: number, onDatagram: ListenerDatagramHandler): [Handle, number];
  send(handle: Handle, bytes: Buffer): number;
  sendTo(handle: Handle, bytes: Buffer, address: string, port: number, fromAddress: string): number;
  startPump(handle: Handle, size: number, blksize: number, windowsize: number, bytesFrom: (offset: number, length: number) => Buffer, onDone: () => void, onSendError: (errno: number) => void): void;
  resendWindow(handle: Handle): void;
  pumpProgress(handle: Handle): [number, number];
  close(handle: Handle): void;
}

const ADDON_PATH = join('src', 'tftp', 'native', 'build', 'Release', 'udp_transfer.node');

function findAddon(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const candidate = join(dir, ADDON_PATH);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) break;
  }
  throw new Error(`kickstand's TFTP transfer addon (${ADDON_PATH}) is not built: run \`npm run build:native\` (needs make, a C compiler and python3; npm ci does it)`);
}

let addon: Addon | undefined;
function loadAddon(): Addon {
  addon ??= createRequire(import.meta.url)(findAddon()) as Addon;
  return addon;
}

/** Binds a UDP socket to an ephemeral port on `bindAddress` for a transfer with `peer`; throws when it cannot. */
export function openNativeTransferSocket(bindAddress: string, peer: { address: string; port: number }, callbacks: NativeTransferCallbacks): NativeTransferSocket {
  const native = loadAddon();
  const [handle, localPort] = native.open(bindAddress, peer.address, peer.port, callbacks.onAck, callbacks.onDatagram);
  return {
    localPort,
    send: (bytes) => native.send(handle, bytes),
    sendTo: (bytes, address, port) => native.sendTo(handle, bytes, address, port, ''),
    startPump: (spec) => native.startPump(handle, spec.size, spec.blksize, spec.windowsize, spec.bytesFrom, spec.onDone, spec.onSendError),
    resendWindow: () => native.resendWindow(handle),
    pumpProgress: () => {
      const [acked, msSinceWindowSent] = native.pumpProgress(handle);
      return { acked, msSinceWindowSent };
    },
    close: () => native.close(handle),
  };
}

/**
 * Binds the listener to `address`:`port`; throws Node-style errors (code EADDRINUSE, EACCES...).
 * An IPv6 address makes a dual-stack socket, IPv4 peers appearing v4-mapped, as dgram's udp6.
 */
export function openNativeListener(address: string, port: number, onDatagram: ListenerDatagramHandler): NativeListenerSocket {
  const native = loadAddon();
  const [handle, localPort] = native.listen(address, port, onDatagram);
  return {
    localPort,
    sendTo: (bytes, to, toPort, fromAddress) => native.sendTo(handle, bytes, to, toPort, fromAddress),
    close: () => native.close(handle),
  };
}

/** Fails early, at server start, when the addon is missing. */
export function checkNativeTransferSockets(): void {
  loadAddon();
}

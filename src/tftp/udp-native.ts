// Loads the compiled transfer-socket addon (src/tftp/native, built by `npm run build:native`).
// It is found from the sources (tsx), from dist/ and from the benchmark's build alike, because
// every one of them lives below the package root that holds src/tftp/native/build.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A transfer's UDP socket, as the addon exposes it. Sends return 0 or an errno, never throw. */
export interface NativeTransferSocket {
  readonly localPort: number;
  /** One datagram to the peer, header and payload gathered without a copy. */
  send(header: Buffer, payload?: Buffer): number;
  /**
   * The DATA packets of a window, [header1, payload1, header2, payload2, ...], all of one size but
   * the last, in as few system calls as UDP GSO allows (one datagram each where GSO is refused).
   */
  sendWindow(headersAndPayloads: Buffer[]): number;
  /** One datagram to another address (ERROR 5 to a stranger), from the transfer's port. */
  sendTo(bytes: Buffer, address: string, port: number): number;
  /** Idempotent; nothing is delivered after it. */
  close(): void;
}

export interface NativeTransferCallbacks {
  /** A 4-byte ACK from the peer. */
  onAck(block: number): void;
  /** Any other datagram, from the peer or from anyone else. */
  onDatagram(bytes: Buffer, address: string, port: number): void;
}

type Handle = { readonly __brand: 'udp_transfer' };
interface Addon {
  open(bindAddress: string, peerAddress: string, peerPort: number, onAck: (block: number) => void, onDatagram: (bytes: Buffer, address: string, port: number) => void): [Handle, number];
  send(handle: Handle, header: Buffer, payload?: Buffer): number;
  sendWindow(handle: Handle, headersAndPayloads: Buffer[]): number;
  sendTo(handle: Handle, bytes: Buffer, address: string, port: number): number;
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
    send: (header, payload) => (payload === undefined ? native.send(handle, header) : native.send(handle, header, payload)),
    sendWindow: (headersAndPayloads) => native.sendWindow(handle, headersAndPayloads),
    sendTo: (bytes, address, port) => native.sendTo(handle, bytes, address, port),
    close: () => native.close(handle),
  };
}

/** Fails early, at server start, when the addon is missing. */
export function checkNativeTransferSockets(): void {
  loadAddon();
}

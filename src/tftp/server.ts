// The TFTP listener: decodes requests on the well-known port, refuses writes and bad names,
// negotiates options and hands each accepted read to its own TransferSocket.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { contentSize, discardContent } from './content.js';
import { DEFAULT_CACHE_BYTES, FileCache } from './file-cache.js';
import { type GeneratedFile, openFileSource } from './file-source.js';
import { normalizeRequestPath, resolveRoot } from './files.js';
import { MAX_BLKSIZE, MIN_BLKSIZE, negotiateOptions, SAFE_LAN_BLKSIZE } from './options.js';
import { decodePacket, encodeError, encodeOack, ErrorCode, type RequestPacket } from './packet.js';
import { type RunningTransfer, type TransferJob } from './transfer-job.js';
import { inThreadRunner, type TransferRunner, WorkerPoolRunner } from './transfer-runner.js';
import type { Peer, TransferEnd } from './transfer-socket.js';
import { checkNativeTransferSockets, type ListenerDatagramHandler, type NativeListenerSocket, openNativeListener } from './udp-native.js';

export interface FileServedEvent {
  /** Path relative to the root, as served (normalized: no leading slash, `/` separators). */
  path: string;
  peer: { address: string };
  /** Bytes the client acknowledged. */
  bytes: number;
  ok: boolean;
}

export interface TftpServerOptions {
  /** The TFTP root (the pxe/ directory). Nothing outside it is ever served. */
  root: string;
  /**
   * Address to listen on; default 0.0.0.0. An IPv6 address (e.g. `::`) makes a dual-stack server.
   * On a wildcard address each transfer is answered from the address its request was sent to.
   */
  host?: string;
  /** UDP port; 69 in production, 0 for an ephemeral port (tests). */
  port: number;
  log: Logger;
  /** Per-host files rendered in memory (pxelinux.cfg/01-<mac>, grub/grub.cfg-01-<mac>); consulted before the disk. */
  generatedFile?: GeneratedFile;
  /** Called when a transfer ends, successfully or not (not for refused requests nor UEFI size probes). */
  onFileServed?: (event: FileServedEvent) => void;
  /**
   * Retransmissions of one window before a transfer is abandoned; default 12. The interval
   * doubles per retransmission up to 8x the timeout (1+2+4+8+...: about 90 s at 1 s), because
   * some clients (atftp) re-ACK a lost ACK only after their own timeout of several seconds.
   */
  maxRetries?: number;
  /** Retransmission timeout when the client sends no `timeout` option; default 1000 ms. */
  timeoutMs?: number;
  /** Largest blksize granted to non-loopback clients; default 1468 (no IP fragmentation at MTU 1500). */
  maxBlksize?: number;
  /** Largest windowsize granted; default 64. */
  maxWindowsize?: number;
  /** Memory for cached boot files; default 256 MiB. Files above half of it are streamed from disk. */
  cacheBytes?: number;
  /** Concurrent transfers; requests beyond get ERROR 0 "Server busy"; default 1024. */
  maxTransfers?: number;
  /**
   * Worker threads that run transfers (the well-known port and all decisions stay in the calling
   * thread). 0 runs everything in the calling thread. Default: one per CPU, at most 4, and 0 on a
   * single CPU.
   */
  workers?: number;
}

export interface TftpServer {
  /** The bound UDP port (useful when `port` was 0). */
  port: number;
  /** Stops listening, aborts running transfers (the clients get an ERROR) and resolves once every socket is closed. */
  close(): Promise<void>;
}

interface ActiveRequest {
  filename: string;
  /** Set once the transfer runs. */
  transfer?: RunningTransfer;
}

const DEFAULTS = {
  maxRetries: 12,
  timeoutMs: 1000,
  maxBlksize: SAFE_LAN_BLKSIZE,
  maxWindowsize: 64,
  /** blksize * windowsize cap: one window must fit a client's default 208 KiB receive buffer. */
  maxWindowBytes: 128 * 1024,
  cacheBytes: DEFAULT_CACHE_BYTES,
  maxTransfers: 1024,
  workers: availableParallelism() > 1 ? Math.min(availableParallelism(), 4) : 0,
};

/** Loopback has a 64 KiB MTU and no fragmentation risk, so the largest RFC 2348 block is safe there. */
function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.startsWith('::ffff:127.');
}

function listen(host: string, port: number, onDatagram: ListenerDatagramHandler): NativeListenerSocket {
  try {
    return openNativeListener(host, port, onDatagram);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === 'EACCES'
        ? ' Ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on node).'
        : code === 'EADDRINUSE'
          ? ' Another TFTP server (tftpd-hpa, dnsmasq) may be running: stop it or pick another port.'
          : '';
    throw new Error(`Cannot listen for TFTP on UDP ${host}:${port}: ${(error as Error).message}.${hint}`);
  }
}

/** The listener needs an IP literal; `--host` may be a name (dgram looked names up too). */
async function listenAddress(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw new Error(`Cannot listen for TFTP on ${host}: ${(error as Error).message}`);
  }
}

/** Rejects option values that would make the server misbehave, with a message naming the option. */
function checkSettings(settings: typeof DEFAULTS): void {
  const ranges: Array<[keyof typeof DEFAULTS, number, number]> = [
    ['maxRetries', 0, 100],
    ['timeoutMs', 1, 255_000],
    ['maxBlksize', MIN_BLKSIZE, MAX_BLKSIZE],
    ['maxWindowsize', 1, 65535],
    ['cacheBytes', 0, Number.MAX_SAFE_INTEGER],
    ['maxTransfers', 1, 65535],
    ['workers', 0, 64],
  ];
  for (const [name, min, max] of ranges) {
    const value = settings[name];
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new Error(`TFTP option ${name} must be an integer from ${min} to ${max}, got ${value}`);
    }
  }
}

export async function startTftpServer(options: TftpServerOptions): Promise<TftpServer> {
  const settings = { ...DEFAULTS, ...withoutUndefined(options) };
  checkSettings(settings);
  checkNativeTransferSockets();
  const { log } = options;
  const rootReal = await resolveRoot(options.root);
  const cache = new FileCache(settings.cacheBytes);
  const maxCachedFileBytes = Math.floor(settings.cacheBytes / 2);
  const host = await listenAddress(options.host ?? '0.0.0.0');

  const runner: TransferRunner = settings.workers > 0 ? await WorkerPoolRunner.create(settings.workers, log) : inThreadRunner;
  let listener: NativeListenerSocket;
  try {
    listener = listen(host, options.port, (message, address, port, localAddress) => onDatagram(message, { address, port }, localAddress));
  } catch (error) {
    await runner.close();
    throw error;
  }

  /** Running transfers, and requests still being resolved, keyed by peer address:port. */
  const active = new Map<string, ActiveRequest>();
  /** Requests still being resolved, awaited by close() so no socket opens after it resolves. */
  const resolving = new Set<Promise<void>>();
  let closing = false;

  /** An ERROR from the listener's port, from the address the request was sent to. */
  const refuse = (peer: Peer, localAddress: string, code: number, message: string) => {
    if (closing) return;
    const errno = listener.sendTo(encodeError(code, message), peer.address, peer.port, localAddress);
    if (errno !== 0) log.debug({ peer: `${peer.address}:${peer.port}`, errno }, 'TFTP refusal could not be sent');
  };

  const forget = (key: string, entry: ActiveRequest) => {
    if (active.get(key) === entry) active.delete(key);
  };

  const finish = (key: string, entry: ActiveRequest, relPath: string, peer: Peer, transferLog: Logger, startedAt: number, end: TransferEnd) => {
    forget(key, entry);
    const ms = Date.now() - startedAt;
    if (end.ok) transferLog.info({ bytes: end.bytes, ms }, 'TFTP file served');
    else if (end.reason === 'size-probe') transferLog.debug({ detail: end.detail }, 'TFTP size probe ended by client');
    else if (end.reason === 'peer-error' || end.reason === 'shutdown') transferLog.info({ bytes: end.bytes, ms, detail: end.detail }, 'TFTP transfer aborted');
    else if (end.reason === 'timeout') transferLog.warn({ bytes: end.bytes, ms, detail: end.detail }, 'TFTP transfer timed out');
    else transferLog.error({ bytes: end.bytes, ms, detail: end.detail }, 'TFTP transfer failed');
    if (end.ok || end.reason !== 'size-probe') {
      try {
        options.onFileServed?.({ path: relPath, peer: { address: peer.address }, bytes: end.bytes, ok: end.ok });
      } catch (error) {
        log.error({ err: error }, 'onFileServed handler threw');
      }
    }
  };

  const serveRead = async (request: RequestPacket, peer: Peer, localAddress: string, key: string, entry: ActiveRequest): Promise<void> => {
    if (request.mode !== 'octet' && request.mode !== 'netascii') {
      refuse(peer, localAddress, ErrorCode.IllegalOperation, `Unsupported mode '${request.mode}', use octet`);
      return;
    }
    const normalized = normalizeRequestPath(request.filename);
    const transferLog = log.child({ peer: `${peer.address}:${peer.port}`, file: normalized.ok ? normalized.relPath : request.filename });
    if (!normalized.ok) {
      transferLog.info({ code: normalized.code, reason: normalized.message }, 'TFTP request refused');
      refuse(peer, localAddress, normalized.code, normalized.message);
      return;
    }
    const { relPath } = normalized;
    const source = await openFileSource(relPath, request.mode === 'netascii', peer, localAddress, {
      rootReal,
      cache,
      maxCachedFileBytes,
      generatedFile: options.generatedFile,
    });
    if (!source.ok) {
      transferLog.info({ code: source.code, reason: source.message }, 'TFTP request refused');
      refuse(peer, localAddress, source.code, source.message);
      return;
    }
    const { content } = source;
    if (closing) {
      discardContent(content);
      return;
    }
    const size = contentSize(content);
    const negotiated = negotiateOptions(request.options, size, {
      maxBlksize: isLoopback(peer.address) ? MAX_BLKSIZE : settings.maxBlksize,
      maxWindowsize: settings.maxWindowsize,
      maxWindowBytes: settings.maxWindowBytes,
    });
    const startedAt = Date.now();
    const job: TransferJob = {
      // The address the client asked: on a wildcard listener the kernel's choice of source for
      // the reply can differ (a second address on the interface, a VIP, asymmetric routes).
      bindAddress: localAddress || host,
      peer,
      content,
      blksize: negotiated.blksize,
      windowsize: negotiated.windowsize,
      timeoutMs: negotiated.timeoutMs ?? settings.timeoutMs,
      maxRetries: settings.maxRetries,
      oack: negotiated.accepted.length > 0 ? encodeOack(negotiated.accepted) : undefined,
      debugLogging: transferLog.isLevelEnabled('debug'),
    };
    const running = await runner.start(job, transferLog, (end) => finish(key, entry, relPath, peer, transferLog, startedAt, end));
    entry.transfer = running;
    transferLog.debug(
      { size, origin: source.origin, blksize: negotiated.blksize, windowsize: negotiated.windowsize, options: request.options },
      'TFTP transfer started',
    );
    if (closing) await running.abort('Server shutting down');
  };

  const onRequest = (request: RequestPacket, peer: Peer, localAddress: string) => {
    if (request.kind === 'wrq') {
      log.info({ peer: `${peer.address}:${peer.port}`, file: request.filename }, 'TFTP write refused');
      refuse(peer, localAddress, ErrorCode.AccessViolation, 'Read-only server');
      return;
    }
    const key = `${peer.address}|${peer.port}`;
    const existing = active.get(key);
    if (existing && existing.filename === request.filename) {
      // The client resent its request before our first answer arrived: the transfer already running answers it.
      log.debug({ peer: `${peer.address}:${peer.port}`, file: request.filename }, 'duplicate TFTP request ignored');
      return;
    }
    if (active.size >= settings.maxTransfers) {
      log.warn({ peer: `${peer.address}:${peer.port}`, file: request.filename, active: active.size }, 'TFTP request refused: too many transfers');
      refuse(peer, localAddress, ErrorCode.NotDefined, 'Server busy, try again');
      return;
    }
    const entry: ActiveRequest = { filename: request.filename };
    active.set(key, entry);
    const served = serveRead(request, peer, localAddress, key, entry).then(
      () => {
        if (!entry.transfer) forget(key, entry); // refused: nothing runs for this peer
      },
      (error: unknown) => {
        forget(key, entry);
        log.error({ err: error, peer: `${peer.address}:${peer.port}`, file: request.filename }, 'TFTP request failed');
        refuse(peer, localAddress, ErrorCode.NotDefined, 'Internal server error');
      },
    );
    resolving.add(served);
    void served.finally(() => resolving.delete(served));
  };

  function onDatagram(message: Buffer, peer: Peer, localAddress: string): void {
    try {
      const decoded = decodePacket(message);
      if (!decoded.ok) {
        log.debug({ peer: `${peer.address}:${peer.port}`, bytes: message.length, error: decoded.error }, 'malformed TFTP packet dropped');
        return;
      }
      if (decoded.packet.kind === 'rrq' || decoded.packet.kind === 'wrq') onRequest(decoded.packet, peer, localAddress);
      else log.debug({ peer: `${peer.address}:${peer.port}`, kind: decoded.packet.kind }, 'TFTP packet without a transfer dropped');
    } catch (error) {
      log.error({ err: error }, 'TFTP request handling failed');
    }
  }

  log.info({ address: host, port: listener.localPort, root: rootReal, workers: settings.workers }, 'TFTP server listening');

  let closed: Promise<void> | undefined;
  const shutdown = async () => {
    closing = true;
    listener.close();
    await Promise.all([...resolving]);
    await Promise.all([...active.values()].map((entry) => entry.transfer?.abort('Server shutting down')));
    await runner.close();
    cache.clear();
  };

  return {
    port: listener.localPort,
    close: () => (closed ??= shutdown()),
  };
}

/** Drops keys whose value is undefined so they do not override the defaults. */
function withoutUndefined<T extends object>(object: T): Partial<T> {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined)) as Partial<T>;
}

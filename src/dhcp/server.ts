// Thin UDP layer: sockets in, decode, ask the proxy or full responder, encode, send.
// Every decision lives in the socket-free modules; this file only moves bytes and logs.
//
// Sockets (why: docs/adr/0002-own-dhcp-server.md):
//   0.0.0.0:port      receives broadcasts (a socket bound to a unicast address never sees them)
//   serverIp:port     receives unicast to the server and SENDS every reply: Linux routes a
//                     255.255.255.255 datagram from a socket bound to a local address out of the
//                     interface owning that address, so replies leave on the served interface
//   serverIp:pxePort  proxy mode only: PXE boot server requests (port 4011)

import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import type { DhcpAnswer, DhcpEvent } from './answer.js';
import { decodePacket, describeDecodeError, encodePacket } from './codec.js';
import { STANDARD_PORTS, type DhcpPorts } from './destination.js';
import { answerFull, FULL_DEFAULTS, type FullConfig, type FullDeps } from './full.js';
import type { LookupHost } from './host-lookup.js';
import { findServedInterface, type InterfaceTable, type ServedInterface } from './interfaces.js';
import { openLeaseStore, type LeaseStore } from './lease-store.js';
import type { PoolConfig } from './pool.js';
import { answerProxy, type ProxyConfig } from './proxy.js';
import type { IncomingRequest } from './request.js';
import { err, ok, type Result } from './result.js';

export type DhcpLog = Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>;

export interface DhcpServerOptions {
  mode: 'proxy' | 'full';
  /** Address of the interface facing the machines to boot; replies leave through it. */
  serverIp: string;
  /** Optional check: serverIp must belong to this interface. */
  interface?: string | undefined;
  port?: number | undefined;
  pxePort?: number | undefined;
  clientPort?: number | undefined;
  /** Where iPXE scripts and HTTP-boot binaries are served, e.g. http://10.0.0.1:8080 */
  httpBaseUrl: string;
  onlyKnownMacs?: boolean | undefined;
  log: DhcpLog;
  lookupHost: LookupHost;
  onEvent?: ((event: DhcpEvent) => void) | undefined;
  /** Full mode: SQLite file for leases (created if missing). */
  leaseFile?: string | undefined;
  pool?: PoolConfig | undefined;
  leaseSeconds?: number | undefined;
  offerHoldSeconds?: number | undefined;
  declineHoldSeconds?: number | undefined;
  reservedMacsFor?: FullDeps['reservedMacsFor'];
  now?: (() => number) | undefined;
  /** Injected in tests; defaults to os.networkInterfaces(). */
  interfaces?: (() => InterfaceTable) | undefined;
}

export interface DhcpServer {
  readonly servedInterface: ServedInterface;
  /** Full mode only. */
  readonly leases: LeaseStore | undefined;
  close(): Promise<void>;
}

function bindSocket(address: string, port: number): Promise<Result<dgram.Socket, string>> {
  return new Promise((resolve) => {
    // reuseAddr: the wildcard and the address-bound sockets share the port.
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    const onError = (e: NodeJS.ErrnoException): void => {
      socket.close();
      const hint =
        e.code === 'EACCES'
          ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)'
          : e.code === 'EADDRINUSE'
            ? ' (another DHCP server, such as dnsmasq, holds the port)'
            : e.code === 'EADDRNOTAVAIL'
              ? ' (the address is not configured on this machine)'
              : '';
      resolve(err(`cannot bind UDP ${address}:${port}: ${e.message}${hint}`));
    };
    socket.once('error', onError);
    socket.bind({ address, port, exclusive: true }, () => {
      socket.off('error', onError);
      socket.setBroadcast(true);
      resolve(ok(socket));
    });
  });
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

export async function startDhcpServer(options: DhcpServerOptions): Promise<Result<DhcpServer, string>> {
  const { log } = options;
  const table = (options.interfaces ?? networkInterfaces)();
  const served = findServedInterface(table, options.serverIp, options.interface);
  if (!served.ok) return served;

  const ports: DhcpPorts = {
    server: options.port ?? STANDARD_PORTS.server,
    client: options.clientPort ?? STANDARD_PORTS.client,
    pxe: options.pxePort ?? STANDARD_PORTS.pxe,
  };
  const boot = {
    serverIp: options.serverIp,
    httpBaseUrl: options.httpBaseUrl,
    onlyKnownMacs: options.onlyKnownMacs ?? false,
  };

  let leases: LeaseStore | undefined;
  let respond: (request: IncomingRequest) => DhcpAnswer;
  if (options.mode === 'full') {
    if (options.leaseFile === undefined) return err('full DHCP mode needs a lease file path');
    const opened = openLeaseStore(options.leaseFile);
    if (!opened.ok) return opened;
    const store = opened.value;
    leases = store;
    const config: FullConfig = {
      boot,
      localSubnet: { address: served.value.address, mask: served.value.netmask },
      pool: options.pool,
      leaseSeconds: options.leaseSeconds ?? FULL_DEFAULTS.leaseSeconds,
      offerHoldSeconds: options.offerHoldSeconds ?? FULL_DEFAULTS.offerHoldSeconds,
      declineHoldSeconds: options.declineHoldSeconds ?? FULL_DEFAULTS.declineHoldSeconds,
      ports,
    };
    const deps = {
      lookupHost: options.lookupHost,
      leases: store,
      now: options.now ?? Date.now,
      reservedMacsFor: options.reservedMacsFor,
    };
    respond = (request) => answerFull(request, config, deps);
  } else {
    const config: ProxyConfig = { boot, ports };
    respond = (request) => answerProxy(request, config, { lookupHost: options.lookupHost });
  }

  const sockets: dgram.Socket[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.all(sockets.map(closeSocket));
    leases?.close();
  };
  const bindings: Array<[string, number]> = [
    ['0.0.0.0', ports.server],
    [options.serverIp, ports.server],
    ...(options.mode === 'proxy' ? ([[options.serverIp, ports.pxe]] as Array<[string, number]>) : []),
  ];
  for (const [address, port] of bindings) {
    const bound = await bindSocket(address, port);
    if (!bound.ok) {
      await cleanup();
      return bound;
    }
    sockets.push(bound.value);
  }
  const [broadcastSocket, serverSocket, pxeSocket] = sockets as [dgram.Socket, dgram.Socket, dgram.Socket | undefined];

  const handle = (bytes: Buffer, from: dgram.RemoteInfo, request: Omit<IncomingRequest, 'packet' | 'source'>, replyVia: dgram.Socket): void => {
    const decoded = decodePacket(bytes);
    if (!decoded.ok) {
      log.debug({ from: `${from.address}:${from.port}`, bytes: bytes.length }, `dropped malformed DHCP packet: ${describeDecodeError(decoded.error)}`);
      return;
    }
    let answer: DhcpAnswer;
    try {
      answer = respond({ ...request, packet: decoded.value, source: { address: from.address, port: from.port } });
    } catch (e) {
      log.error({ err: e, from: `${from.address}:${from.port}` }, 'DHCP responder failed; request dropped');
      return;
    }
    try {
      options.onEvent?.(answer.event);
    } catch (e) {
      log.error({ err: e }, 'DHCP event listener failed');
    }
    const context = { mac: answer.event.mac, xid: answer.event.xid, request: answer.event.request };
    if (answer.action === 'silent') {
      log[answer.level]({ ...context, reason: answer.reason }, 'DHCP request not answered');
      return;
    }
    const encoded = encodePacket(answer.reply);
    if (!encoded.ok) {
      log.error({ ...context, error: encoded.error }, 'DHCP reply could not be encoded; not sent');
      return;
    }
    const { address, port } = answer.destination;
    replyVia.send(encoded.value, port, address, (e) => {
      if (e) log.warn({ ...context, to: `${address}:${port}`, err: e }, 'DHCP reply not sent');
    });
    log.info(
      { ...context, to: `${address}:${port}`, ip: answer.event.ip, bootFile: answer.event.bootFile },
      `DHCP ${answer.event.outcome}`,
    );
  };

  broadcastSocket.on('message', (bytes, from) => handle(bytes, from, { receivedOn: 'dhcp', unicast: false }, serverSocket));
  serverSocket.on('message', (bytes, from) => handle(bytes, from, { receivedOn: 'dhcp', unicast: true }, serverSocket));
  pxeSocket?.on('message', (bytes, from) => handle(bytes, from, { receivedOn: 'pxe', unicast: true }, pxeSocket));
  for (const socket of sockets) socket.on('error', (e) => log.error({ err: e }, 'DHCP socket error'));

  log.info(
    { mode: options.mode, interface: served.value.name, serverIp: options.serverIp, ports },
    'DHCP server listening',
  );
  return ok({ servedInterface: served.value, leases, close: cleanup });
}

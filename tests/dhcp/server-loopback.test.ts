// The socket layer on loopback with high ports: unicast paths only (relay, ciaddr, PXE port);
// broadcasts are exercised by netns.test.ts with a real client.

import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, it } from 'node:test';
import pino from 'pino';
import type { DhcpEvent } from '../../src/dhcp/answer.js';
import type { DhcpPacket } from '../../src/dhcp/codec.js';
import { MessageType, read } from '../../src/dhcp/options.js';
import { PoolConfigSchema } from '../../src/dhcp/pool.js';
import { startDhcpServer, type DhcpServer, type DhcpServerOptions } from '../../src/dhcp/server.js';
import { rawPacket } from './firmware-packets.js';
import { decodeOrFail } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ks-dhcp-lo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capturingLog(): { log: pino.Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

const servers: DhcpServer[] = [];
const sockets: dgram.Socket[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
  for (const s of sockets.splice(0)) s.close();
});

/** Random high ports; retried if something else on the machine holds them. */
async function start(
  over: Partial<DhcpServerOptions>,
): Promise<{ server: DhcpServer; ports: { port: number; clientPort: number; pxePort: number }; lines: LogLine[]; events: DhcpEvent[] }> {
  for (let attempt = 0; attempt < 10; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const ports = { port: base, clientPort: base + 1, pxePort: base + 2 };
    const { log, lines } = capturingLog();
    const events: DhcpEvent[] = [];
    const started = await startDhcpServer({
      mode: 'proxy',
      serverIp: '127.0.0.1',
      httpBaseUrl: 'http://127.0.0.1:8080',
      log,
      lookupHost: () => undefined,
      onEvent: (e) => events.push(e),
      ...ports,
      ...over,
    });
    if (started.ok) {
      servers.push(started.value);
      return { server: started.value, ports, lines, events };
    }
    if (!/EADDRINUSE/.test(started.error)) assert.fail(started.error);
  }
  assert.fail('no free ports found');
}

function bind(address: string, port = 0): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    socket.once('error', reject);
    socket.bind({ address, port }, () => {
      sockets.push(socket);
      resolve(socket);
    });
  });
}

function nextPacket(socket: dgram.Socket, ms = 2000): Promise<{ packet: DhcpPacket; from: dgram.RemoteInfo }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no reply within ${ms} ms`)), ms);
    socket.once('message', (bytes, from) => {
      clearTimeout(timer);
      resolve({ packet: decodeOrFail(bytes), from });
    });
  });
}

function send(socket: dgram.Socket, bytes: Buffer, port: number, address = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => socket.send(bytes, port, address, (e) => (e ? reject(e) : resolve())));
}

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const uefiRequest = (fields: Parameters<typeof rawPacket>[0] = {}) =>
  rawPacket({ mac: '52:54:00:00:00:07', ...fields }, [[53, [3]], [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]]]);
const uefiDiscover = (fields: Parameters<typeof rawPacket>[0] = {}) =>
  rawPacket({ mac: '52:54:00:00:00:07', ...fields }, [[53, [1]], [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]]]);

describe('DHCP server sockets (loopback)', () => {
  it('proxy: answers a PXE boot server REQUEST on the PXE port, back to its source', async () => {
    const { ports, events } = await start({});
    const client = await bind('127.0.0.1');
    const reply = nextPacket(client);
    await send(client, uefiRequest({ ciaddr: '127.0.0.1' }), ports.pxePort);
    const { packet, from } = await reply;
    assert.equal(from.port, ports.pxePort, 'the ACK comes from the PXE port');
    assert.equal(read.messageType(packet.options), MessageType.Ack);
    assert.equal(packet.file, 'ipxe.efi');
    assert.equal(packet.yiaddr, '0.0.0.0');
    assert.equal(events[0]?.outcome, 'ack');
  });

  it('proxy: answers a relayed DISCOVER at giaddr on the server port', async () => {
    const { ports } = await start({});
    const relay = await bind('127.0.0.2', ports.port);
    const reply = nextPacket(relay);
    await send(relay, uefiDiscover({ giaddr: '127.0.0.2', hops: 1 }), ports.port);
    const { packet, from } = await reply;
    assert.equal(from.address, '127.0.0.1');
    assert.equal(from.port, ports.port);
    assert.equal(read.messageType(packet.options), MessageType.Offer);
    assert.equal(packet.giaddr, '127.0.0.2');
    assert.equal(packet.yiaddr, '0.0.0.0');
    assert.equal(packet.siaddr, '127.0.0.1');
  });

  it('drops malformed packets with a debug log and keeps serving', async () => {
    const { ports, lines } = await start({});
    const client = await bind('127.0.0.1');
    const garbage = [
      Buffer.alloc(0),
      Buffer.from('hello'),
      rawPacket({ cookie: 0 }, []),
      Buffer.concat([rawPacket({}, [[53, [1]]], { end: false }), Buffer.from([60, 200, 1])]),
      rawPacket({}, [[53, [1]], [52, [9]]]),
    ];
    for (const bytes of garbage) {
      await send(client, bytes, ports.port);
      await send(client, bytes, ports.pxePort);
    }
    const reply = nextPacket(client);
    await send(client, uefiRequest({ ciaddr: '127.0.0.1' }), ports.pxePort);
    assert.equal(read.messageType((await reply).packet.options), MessageType.Ack);
    await until(() => lines.filter((l) => l.msg.startsWith('dropped malformed DHCP packet')).length === garbage.length * 2);
    assert.ok(lines.filter((l) => l.msg.startsWith('dropped malformed')).every((l) => l.level === 20));
  });

  it('survives a lookupHost that throws', async () => {
    let calls = 0;
    const { ports, lines } = await start({
      lookupHost: () => {
        calls++;
        if (calls === 1) throw new Error('definitions exploded');
        return undefined;
      },
    });
    const client = await bind('127.0.0.1');
    await send(client, uefiRequest({ ciaddr: '127.0.0.1' }), ports.pxePort);
    await until(() => lines.some((l) => l.msg === 'DHCP responder failed; request dropped'));
    const reply = nextPacket(client);
    await send(client, uefiRequest({ ciaddr: '127.0.0.1' }), ports.pxePort);
    assert.equal(read.messageType((await reply).packet.options), MessageType.Ack);
  });

  it('full: relayed DISCOVER gets a pool address; INFORM is answered unicast to ciaddr', async () => {
    const { ports } = await start({
      mode: 'full',
      leaseFile: join(dir, 'full.db'),
      pool: PoolConfigSchema.parse({ start: '127.0.0.100', end: '127.0.0.110', subnetMask: '255.0.0.0' }),
    });
    const relay = await bind('127.0.0.2', ports.port);
    const offer = nextPacket(relay);
    await send(relay, rawPacket({ mac: '02:00:00:00:00:05', giaddr: '127.0.0.2' }, [[53, [1]]]), ports.port);
    assert.equal((await offer).packet.yiaddr, '127.0.0.100');

    const client = await bind('127.0.0.3', ports.clientPort);
    const ack = nextPacket(client);
    await send(client, rawPacket({ mac: '02:00:00:00:00:06', ciaddr: '127.0.0.3', flags: 0 }, [[53, [8]]]), ports.port);
    const { packet } = await ack;
    assert.equal(read.messageType(packet.options), MessageType.Ack);
    assert.equal(packet.ciaddr, '127.0.0.3');
    assert.equal(packet.yiaddr, '0.0.0.0');
  });

  it('full: a datagram to the server address counts as unicast (RENEWING an unknown lease is NAKed)', async () => {
    const { ports, events } = await start({ mode: 'full', leaseFile: join(dir, 'unicast.db') });
    const client = await bind('127.0.0.4');
    await send(client, rawPacket({ mac: '02:00:00:00:00:07', ciaddr: '127.0.0.4', flags: 0 }, [[53, [3]]]), ports.port);
    await until(() => events.length === 1);
    assert.equal(events[0]?.outcome, 'nak');
  });

  it('full: leases survive a server restart', async () => {
    const leaseFile = join(dir, 'restart.db');
    const pool = PoolConfigSchema.parse({ start: '127.0.0.100', end: '127.0.0.110', subnetMask: '255.0.0.0' });
    const first = await start({ mode: 'full', leaseFile, pool });
    const relay = await bind('127.0.0.2', first.ports.port);
    const mac = '02:00:00:00:00:08';
    const discover = rawPacket({ mac, giaddr: '127.0.0.2' }, [[53, [1]], [50, [127, 0, 0, 107]]]);
    const offer = nextPacket(relay);
    await send(relay, discover, first.ports.port);
    assert.equal((await offer).packet.yiaddr, '127.0.0.107');
    const ack = nextPacket(relay);
    await send(relay, rawPacket({ mac, giaddr: '127.0.0.2' }, [[53, [3]], [50, [127, 0, 0, 107]], [54, [127, 0, 0, 1]]]), first.ports.port);
    assert.equal(read.messageType((await ack).packet.options), MessageType.Ack);
    await first.server.close();
    relay.close();
    sockets.splice(sockets.indexOf(relay), 1);

    const second = await start({ mode: 'full', leaseFile, pool, ...first.ports });
    assert.equal(second.server.leases?.byMac(mac)?.ip, '127.0.0.107');
    assert.equal(second.server.leases?.byMac(mac)?.state, 'bound');
  });
});

describe('startDhcpServer errors are values', () => {
  const base = {
    mode: 'proxy' as const,
    httpBaseUrl: 'http://127.0.0.1',
    log: pino({ level: 'silent' }),
    lookupHost: () => undefined,
    port: 39067,
    pxePort: 39068,
    clientPort: 39069,
  };
  it('serverIp that is not local', async () => {
    const r = await startDhcpServer({ ...base, serverIp: '192.0.2.10' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /192.0.2.10 is not an address of this machine/);
  });
  it('interface that does not exist', async () => {
    const r = await startDhcpServer({ ...base, serverIp: '127.0.0.1', interface: 'nosuch0' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /interface nosuch0 does not exist/);
  });
  it('serverIp on another interface than the one named', async () => {
    const r = await startDhcpServer({
      ...base,
      serverIp: '127.0.0.1',
      interface: 'eth9',
      interfaces: () => ({
        lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
        eth9: [{ address: '10.9.9.9', netmask: '255.255.255.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '10.9.9.9/24' }],
      }),
    });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /127.0.0.1 is on interface lo, not eth9/);
  });
  it('full mode without a lease file', async () => {
    const r = await startDhcpServer({ ...base, mode: 'full', serverIp: '127.0.0.1' });
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /lease file/);
  });
  it('a port held by another program', async () => {
    const holder = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve) => holder.bind({ address: '127.0.0.1', port: 39167 }, resolve));
    const r = await startDhcpServer({ ...base, serverIp: '127.0.0.1', port: 39167 });
    holder.close();
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.error, /cannot bind UDP .*39167.*another DHCP server/);
  });
  it('close() frees the ports for the next start', async () => {
    const a = await startDhcpServer({ ...base, serverIp: '127.0.0.1', port: 39267, pxePort: 39268 });
    assert.ok(a.ok);
    if (a.ok) await a.value.close();
    const b = await startDhcpServer({ ...base, serverIp: '127.0.0.1', port: 39267, pxePort: 39268 });
    assert.ok(b.ok, b.ok ? '' : b.error);
    if (b.ok) await b.value.close();
  });
});

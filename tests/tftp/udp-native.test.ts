// The native transfer and listener sockets against real dgram peers on loopback: what reaches
// JavaScript, what leaves, from which address, and that nothing does after close().
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { constants } from 'node:os';
import { test, type TestContext } from 'node:test';
import { openNativeListener, openNativeTransferSocket } from '../../src/tftp/udp-native.js';

async function boundPeer(): Promise<Socket> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return socket;
}

/** Sockets on 127.0.0.1, closed when the test ends. */
async function peers(t: TestContext, count: number): Promise<Socket[]> {
  const sockets = await Promise.all(Array.from({ length: count }, boundPeer));
  t.after(() => sockets.forEach((socket) => socket.close()));
  return sockets;
}

function nextMessage(socket: Socket): Promise<{ bytes: Buffer; from: RemoteInfo }> {
  return new Promise((resolve) => socket.once('message', (bytes, from) => resolve({ bytes, from })));
}

function send(socket: Socket, bytes: number[], port: number, address = '127.0.0.1'): Promise<void> {
  return new Promise((resolve, reject) => socket.send(Buffer.from(bytes), port, address, (error) => (error ? reject(error) : resolve())));
}

test('ACKs from the peer arrive as block numbers; everything else as bytes with its sender', async (t) => {
  const [peer, stranger] = await peers(t, 2) as [Socket, Socket];
  const events: unknown[] = [];
  let arrived: () => void = () => {};
  const socket = openNativeTransferSocket('127.0.0.1', { address: '127.0.0.1', port: peer.address().port }, {
    onAck: (block) => {
      events.push({ ack: block });
      arrived();
    },
    onDatagram: (bytes, address, port) => {
      events.push({ bytes: [...bytes], address, port });
      arrived();
    },
  });
  t.after(() => socket.close());
  const received = (count: number) =>
    new Promise<void>((resolve) => {
      arrived = () => events.length >= count && resolve();
      arrived();
    });

  await send(peer, [0, 4, 0x12, 0x34], socket.localPort);
  await received(1);
  await send(peer, [0, 4, 0, 7, 0], socket.localPort); // a padded ACK is still an ACK
  await received(2);
  await send(stranger, [0, 4, 0, 1], socket.localPort); // an ACK from anyone else is not the peer's
  await received(3);
  await send(peer, [0, 5, 0, 1, 0], socket.localPort); // ERROR from the peer
  await received(4);
  assert.deepEqual(events, [
    { ack: 0x1234 },
    { ack: 7 },
    { bytes: [0, 4, 0, 1], address: '127.0.0.1', port: stranger.address().port },
    { bytes: [0, 5, 0, 1, 0], address: '127.0.0.1', port: peer.address().port },
  ]);
});

test('send reaches the peer and sendTo reaches others, both from the transfer\'s port', async (t) => {
  const [peer, stranger] = await peers(t, 2) as [Socket, Socket];
  const socket = openNativeTransferSocket('127.0.0.1', { address: '127.0.0.1', port: peer.address().port }, { onAck: () => {}, onDatagram: () => {} });
  t.after(() => socket.close());

  const atPeer = nextMessage(peer);
  assert.equal(socket.send(Buffer.from([0, 6, 0x74, 0x73, 0x69, 0x7a, 0x65, 0, 0x31, 0])), 0);
  const oack = await atPeer;
  assert.deepEqual([...oack.bytes], [0, 6, 0x74, 0x73, 0x69, 0x7a, 0x65, 0, 0x31, 0]);
  assert.equal(oack.from.port, socket.localPort);

  const atStranger = nextMessage(stranger);
  assert.equal(socket.sendTo(Buffer.from([0, 5, 0, 5, 0]), '127.0.0.1', stranger.address().port), 0);
  const error = await atStranger;
  assert.deepEqual([...error.bytes], [0, 5, 0, 5, 0]);
  assert.equal(error.from.port, socket.localPort);
});

test('after close nothing is delivered, sends fail with EBADF, and the port is released', async (t) => {
  const peer = await boundPeer();
  t.after(() => peer.close());
  let delivered = 0;
  const socket = openNativeTransferSocket('127.0.0.1', { address: '127.0.0.1', port: peer.address().port }, {
    onAck: () => delivered++,
    onDatagram: () => delivered++,
  });
  const port = socket.localPort;
  socket.close();
  socket.close(); // idempotent
  assert.equal(socket.send(Buffer.from([0, 3, 0, 1])), constants.errno.EBADF);
  await send(peer, [0, 4, 0, 1], port).catch(() => {});
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(delivered, 0);
  const reuse = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    reuse.once('error', reject);
    reuse.bind(port, '127.0.0.1', resolve);
  });
  reuse.close();
});

test('IPv6 loopback works the same way; addresses that are not IP literals are refused', async (t) => {
  const peer = createSocket('udp6');
  await new Promise<void>((resolve) => peer.bind(0, '::1', resolve));
  t.after(() => peer.close());
  const acks: number[] = [];
  const socket = openNativeTransferSocket('::1', { address: '::1', port: peer.address().port }, { onAck: (block) => acks.push(block), onDatagram: () => {} });
  t.after(() => socket.close());
  const atPeer = nextMessage(peer);
  assert.equal(socket.send(Buffer.from([0, 3, 0, 1])), 0);
  assert.equal((await atPeer).from.port, socket.localPort);
  await new Promise<void>((resolve) => peer.send(Buffer.from([0, 4, 0, 1]), socket.localPort, '::1', () => resolve()));
  while (acks.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.deepEqual(acks, [1]);

  assert.throws(() => openNativeTransferSocket('localhost', { address: '127.0.0.1', port: 9 }, { onAck: () => {}, onDatagram: () => {} }), /IP literals/);
});

interface ListenerDatagram {
  bytes: number[];
  address: string;
  port: number;
  localAddress: string;
}

/** A listener on `host`, its datagrams queued for next(). */
function listenerOn(t: TestContext, host: string) {
  const queue: ListenerDatagram[] = [];
  let wake: () => void = () => {};
  const listener = openNativeListener(host, 0, (bytes, address, port, localAddress) => {
    queue.push({ bytes: [...bytes], address, port, localAddress });
    wake();
  });
  t.after(() => listener.close());
  const next = async (): Promise<ListenerDatagram> => {
    while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return queue.shift()!;
  };
  return { listener, next };
}

test('a wildcard listener tells each datagram\'s local address, and answers from the one it is given', async (t) => {
  const [peer] = await peers(t, 1) as [Socket];
  const { listener, next } = listenerOn(t, '0.0.0.0');
  await send(peer, [0, 1, 0x61, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0], listener.localPort, '127.0.0.2');
  assert.deepEqual(await next(), { bytes: [0, 1, 0x61, 0, 0x6f, 0x63, 0x74, 0x65, 0x74, 0], address: '127.0.0.1', port: peer.address().port, localAddress: '127.0.0.2' });
  await send(peer, [0, 4, 0, 1], listener.localPort, '127.0.0.3'); // a listener has no peer: an ACK is just a datagram
  assert.deepEqual(await next(), { bytes: [0, 4, 0, 1], address: '127.0.0.1', port: peer.address().port, localAddress: '127.0.0.3' });

  const fromAsked = nextMessage(peer);
  assert.equal(listener.sendTo(Buffer.from([0, 5, 0, 1, 0]), '127.0.0.1', peer.address().port, '127.0.0.2'), 0);
  assert.deepEqual((await fromAsked).from, { address: '127.0.0.2', family: 'IPv4', port: listener.localPort, size: 5 });
  const fromKernelChoice = nextMessage(peer);
  assert.equal(listener.sendTo(Buffer.from([0, 5, 0, 1, 0]), '127.0.0.1', peer.address().port, ''), 0);
  assert.equal((await fromKernelChoice).from.address, '127.0.0.1');
  assert.throws(() => listener.sendTo(Buffer.from([0]), '127.0.0.1', peer.address().port, '::1'), /source of the socket's own family/);
});

test('a dual-stack listener reports IPv4 addresses v4-mapped and answers IPv4 and IPv6 peers from the asked address', async (t) => {
  const [peer] = await peers(t, 1) as [Socket];
  const { listener, next } = listenerOn(t, '::');
  await send(peer, [0, 1], listener.localPort, '127.0.0.3');
  assert.deepEqual(await next(), { bytes: [0, 1], address: '::ffff:127.0.0.1', port: peer.address().port, localAddress: '::ffff:127.0.0.3' });
  const reply = nextMessage(peer);
  assert.equal(listener.sendTo(Buffer.from([0, 5]), '::ffff:127.0.0.1', peer.address().port, '::ffff:127.0.0.3'), 0);
  assert.equal((await reply).from.address, '127.0.0.3');

  const peer6 = createSocket('udp6');
  await new Promise<void>((resolve) => peer6.bind(0, '::1', resolve));
  t.after(() => peer6.close());
  await new Promise<void>((resolve) => peer6.send(Buffer.from([0, 1]), listener.localPort, '::1', () => resolve()));
  assert.deepEqual(await next(), { bytes: [0, 1], address: '::1', port: peer6.address().port, localAddress: '::1' });
  const reply6 = nextMessage(peer6);
  assert.equal(listener.sendTo(Buffer.from([0, 5]), '::1', peer6.address().port, '::1'), 0);
  assert.equal((await reply6).from.port, listener.localPort);
});

test('close() frees the port at once, as dgram did', (t) => {
  const first = openNativeListener('127.0.0.1', 0, () => {});
  const port = first.localPort;
  first.close();
  const again = openNativeListener('127.0.0.1', port, () => {});
  t.after(() => again.close());
  assert.equal(again.localPort, port);
});

test('callbacks that are not functions are refused before a socket is made', () => {
  const openFds = () => readdirSync('/proc/self/fd').length;
  const before = openFds();
  const notAFunction = 42 as unknown as () => void;
  assert.throws(() => openNativeListener('127.0.0.1', 0, notAFunction), /listen\(address, port, onDatagram\)/);
  assert.throws(() => openNativeTransferSocket('127.0.0.1', { address: '127.0.0.1', port: 9 }, { onAck: notAFunction, onDatagram: () => {} }), /open\(bindAddress/);
  assert.equal(openFds(), before, 'no descriptor leaked');
});

test('a listener on a taken port fails with a Node-style error code', (t) => {
  const { listener } = listenerOn(t, '127.0.0.1');
  assert.throws(() => openNativeListener('127.0.0.1', listener.localPort, () => {}), (error: NodeJS.ErrnoException) => error.code === 'EADDRINUSE' && /bind: Address already in use/.test(error.message));
  assert.throws(() => openNativeListener('127.0.0.1', 70000, () => {}), /port from 0 to 65535/);
});

test('a worker thread that ends with a socket still open closes it instead of aborting the process', async () => {
  const { Worker } = await import('node:worker_threads');
  const moduleUrl = new URL('../../src/tftp/udp-native.ts', import.meta.url).href;
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     // Node 20 does not carry tsx's hooks into workers: register them, as transfer-runner.ts does.
     import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))})
       .then(({ register }) => { register(); return import(${JSON.stringify(moduleUrl)}); })
       .then((m) => {
       const socket = m.openNativeTransferSocket('127.0.0.1', { address: '127.0.0.1', port: 9 }, { onAck() {}, onDatagram() {} });
       parentPort.postMessage(socket.localPort);
     });`,
    { eval: true },
  );
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  // Still alive here, and the worker's socket is gone: its port can be bound again.
  const reuse = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    reuse.once('error', reject);
    reuse.bind(port, '127.0.0.1', resolve);
  });
  reuse.close();
});

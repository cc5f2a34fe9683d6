// The server over real UDP sockets, driven by hand-crafted clients for what real clients never do.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readdirSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decodePacket, encodeAck, encodeError, encodeRequest, type TftpOption } from '../../src/tftp/packet.js';
import { type FileServedEvent, startTftpServer, type TftpServer, type TftpServerOptions } from '../../src/tftp/server.js';
import { CraftedClient, captureLogger, type LogRecord, makeTempDir, PINO_ERROR, patternBytes, xorshift32 } from './helpers.js';

let tmp: { dir: string; cleanup: () => Promise<void> };
let root: string;
const files = {
  small: patternBytes(3000, 1), // 6 blocks of 512
  medium: patternBytes(512 * 300 + 77, 2),
  large: patternBytes(100_000, 3),
};

before(async () => {
  tmp = await makeTempDir();
  root = join(tmp.dir, 'pxe');
  await mkdir(join(root, 'pxelinux.cfg'), { recursive: true });
  await writeFile(join(tmp.dir, 'secret'), 'not for tftp');
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, `${name}.bin`), bytes);
  await writeFile(join(root, 'pxelinux.0'), 'loader on disk');
  await symlink(join(tmp.dir, 'secret'), join(root, 'leak'));
});

after(async () => {
  await tmp.cleanup();
});

interface Harness {
  server: TftpServer;
  records: LogRecord[];
  served: FileServedEvent[];
  clients: CraftedClient[];
  client(): Promise<CraftedClient>;
  close(): Promise<void>;
}

async function startHarness(overrides: Partial<TftpServerOptions> = {}): Promise<Harness> {
  const { log, records } = captureLogger();
  const served: FileServedEvent[] = [];
  // Short retransmission timers keep loss tests fast; many retries keep them from giving up
  // when a loaded CI machine delays the crafted client. Tests of giving up set their own.
  const server = await startTftpServer({ root, host: '127.0.0.1', port: 0, log, workers: 0, maxRetries: 40, onFileServed: (e) => served.push(e), ...overrides });
  const clients: CraftedClient[] = [];
  return {
    server,
    records,
    served,
    clients,
    async client() {
      const client = await CraftedClient.open();
      clients.push(client);
      return client;
    },
    async close() {
      await server.close();
      await Promise.all(clients.map((c) => c.close()));
    },
  };
}

/** Registers the test twice: transfers in the server's thread, and in worker threads. */
function inBothModes(name: string, body: (workers: number) => Promise<void>): void {
  for (const workers of [0, 2]) test(`${name} (${workers ? `${workers} worker threads` : 'in-thread'})`, () => body(workers));
}

function rrq(filename: string, options: Array<[string, string]> = [], mode = 'octet'): Buffer {
  return encodeRequest('rrq', filename, mode, options.map(([name, value]) => ({ name, value })));
}

async function expectError(client: CraftedClient, port: number, request: Buffer, code: number, server = '127.0.0.1'): Promise<string> {
  client.send(request, port, server);
  const reply = await client.next();
  assert.equal(reply.from.address, server, 'the ERROR comes from the address the request was sent to');
  assert.equal(reply.from.port, port, 'a refusal comes from the listener port');
  assert.equal(reply.packet?.kind, 'error', `expected ERROR ${code}, got ${reply.packet?.kind}`);
  assert.ok(reply.packet?.kind === 'error');
  assert.equal(reply.packet.code, code, reply.packet.message);
  return reply.packet.message;
}

interface DownloadOptions {
  options?: Array<[string, string]>;
  mode?: string;
  /** Drop the n-th DATA packet received (0-based count over the whole transfer). */
  dropData?: (n: number) => boolean;
  /** Do not send the n-th ACK (0-based). */
  dropAck?: (n: number) => boolean;
  /** The server address the request goes to; default 127.0.0.1. */
  server?: string;
}

/**
 * A minimal RFC 1350/2347/7440 receiver: follows the OACK, acknowledges each full window, on a
 * gap acknowledges the last block it has in order, and resends that ACK after 300 ms of silence.
 */
async function craftedDownload(client: CraftedClient, port: number, filename: string, opts: DownloadOptions = {}) {
  const server = opts.server ?? '127.0.0.1';
  client.send(rrq(filename, opts.options ?? [], opts.mode), port, server);
  let blksize = 512;
  let windowsize = 1;
  let tid = 0;
  let oack: TftpOption[] | undefined;
  let expected = 1; // absolute number of the next block wanted
  let inWindow = 0;
  let dataCount = 0;
  let ackCount = 0;
  const parts: Buffer[] = [];
  const ack = (block: number) => {
    inWindow = 0;
    if (!opts.dropAck?.(ackCount++)) client.send(encodeAck(block), tid, server);
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    let received;
    try {
      received = await client.next(300);
    } catch {
      if (tid !== 0) ack((expected - 1) & 0xffff);
      continue;
    }
    const packet = received.packet;
    if (!packet) continue;
    if (tid === 0) tid = received.from.port;
    assert.equal(received.from.port, tid, 'all packets come from one transfer ID');
    assert.equal(received.from.address, server, 'all packets come from the address the request was sent to');
    if (packet.kind === 'error') throw new Error(`ERROR ${packet.code}: ${packet.message}`);
    if (packet.kind === 'oack') {
      oack = packet.options;
      for (const { name, value } of packet.options) {
        if (name === 'blksize') blksize = Number(value);
        if (name === 'windowsize') windowsize = Number(value);
      }
      ack(0);
      continue;
    }
    if (packet.kind !== 'data') continue;
    if (opts.dropData?.(dataCount++)) continue;
    if (packet.block !== (expected & 0xffff)) {
      ack((expected - 1) & 0xffff); // gap or duplicate: tell the server what we have
      continue;
    }
    parts.push(Buffer.from(packet.payload));
    expected++;
    inWindow++;
    if (packet.payload.length < blksize) {
      ack(packet.block);
      return { bytes: Buffer.concat(parts), oack, tid, dataCount };
    }
    if (inWindow >= windowsize) ack(packet.block);
  }
  throw new Error('crafted download did not finish in 20 s');
}

async function waitFor(condition: () => boolean, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

inBothModes('serves a file lock-step and reports it through onFileServed', async (workers) => {
  const h = await startHarness({ workers });
  try {
    const client = await h.client();
    const result = await craftedDownload(client, h.server.port, 'small.bin');
    assert.deepEqual(result.bytes, files.small);
    assert.equal(result.oack, undefined, 'no options asked, no OACK');
    assert.notEqual(result.tid, h.server.port, 'data comes from a fresh transfer ID');
    await waitFor(() => h.served.length === 1);
    assert.deepEqual(h.served[0], { path: 'small.bin', peer: { address: '127.0.0.1' }, bytes: files.small.length, ok: true });
    const served = h.records.find((r) => r.msg === 'TFTP file served');
    assert.equal(served?.peer, `127.0.0.1:${client.port}`);
    assert.equal(served?.file, 'small.bin');
  } finally {
    await h.close();
  }
});

test('write requests, bad modes, traversal, symlinks out of the root and unknown files are refused', async () => {
  const h = await startHarness();
  try {
    const client = await h.client();
    const port = h.server.port;
    await expectError(client, port, encodeRequest('wrq', 'small.bin', 'octet'), 2);
    await expectError(client, port, encodeRequest('wrq', 'new-file', 'octet'), 2);
    await expectError(client, port, rrq('small.bin', [], 'mail'), 4);
    await expectError(client, port, rrq('../secret'), 2);
    await expectError(client, port, rrq('pxelinux.cfg/../../secret'), 2);
    await expectError(client, port, rrq('..\\secret'), 2);
    await expectError(client, port, rrq('leak'), 2);
    await expectError(client, port, rrq(join(tmp.dir, 'secret')), 1); // absolute: looked up under the root
    await expectError(client, port, rrq('missing.bin'), 1);
    await expectError(client, port, rrq('pxelinux.cfg'), 2);
    assert.equal(h.records.filter((r) => r.level >= PINO_ERROR).length, 0);
    assert.equal(h.served.length, 0, 'refused requests are not served files');
  } finally {
    await h.close();
  }
});

test('a leading slash and backslashes are accepted', async () => {
  const h = await startHarness();
  try {
    const client = await h.client();
    assert.deepEqual((await craftedDownload(client, h.server.port, '/small.bin')).bytes, files.small);
    await waitFor(() => h.served.length === 1);
    assert.equal(h.served[0]?.path, 'small.bin');
  } finally {
    await h.close();
  }
});

// A multi-homed server, a second address on the interface or a VIP: the kernel's own choice of
// source for a reply to 127.0.0.1 would be 127.0.0.1, and UEFI's TFTP client (EDK2's MTFTP4,
// whose UDP port only accepts the server's address) would never see the file.
for (const host of ['0.0.0.0', '::']) {
  test(`a wildcard listener (${host}) answers every request from the address it was sent to`, async () => {
    const h = await startHarness({ host });
    try {
      const client = await h.client();
      const port = h.server.port;
      const lockStep = await craftedDownload(client, port, 'small.bin', { server: '127.0.0.2' });
      assert.deepEqual(lockStep.bytes, files.small);
      const windowed = await craftedDownload(client, port, 'medium.bin', { server: '127.0.0.3', options: [['blksize', '1024'], ['windowsize', '8']] });
      assert.deepEqual(windowed.bytes, files.medium);
      assert.ok(windowed.oack, 'the OACK came from 127.0.0.3 too');
      await expectError(client, port, rrq('missing.bin'), 1, '127.0.0.4');
      await expectError(client, port, encodeRequest('wrq', 'small.bin', 'octet'), 2, '127.0.0.5');
      await waitFor(() => h.served.length === 2);
      assert.ok(h.served.every((event) => event.ok));
    } finally {
      await h.close();
    }
  });

  test(`a wildcard listener (${host}) answers a broadcast request from the interface's own address`, async () => {
    const h = await startHarness({ host });
    try {
      const client = await h.client();
      client.socket.setBroadcast(true);
      client.send(rrq('small.bin'), h.server.port, '127.255.255.255');
      const first = await client.next();
      assert.equal(first.from.address, '127.0.0.1', 'never from the broadcast address');
      assert.ok(first.packet?.kind === 'data' && first.packet.block === 1);
    } finally {
      await h.close();
    }
  });
}

test('a host name to listen on is looked up, as dgram did', async () => {
  const h = await startHarness({ host: 'localhost' });
  try {
    const client = await h.client();
    assert.deepEqual((await craftedDownload(client, h.server.port, 'small.bin')).bytes, files.small);
  } finally {
    await h.close();
  }
});

test('generated files are consulted before the disk and get the normalized path and the peer', async () => {
  const calls: Array<{ relPath: string; peer: { address: string; port: number }; localAddress: string }> = [];
  const h = await startHarness({
    generatedFile: (relPath, peer, localAddress) => {
      calls.push({ relPath, peer, localAddress });
      if (relPath === 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff') return 'DEFAULT install\n';
      if (relPath === 'pxelinux.0') return Buffer.from('generated loader');
      return undefined;
    },
  });
  try {
    const client = await h.client();
    const cfg = await craftedDownload(client, h.server.port, '/pxelinux.cfg\\01-aa-bb-cc-dd-ee-ff', { options: [['tsize', '0']] });
    assert.equal(cfg.bytes.toString(), 'DEFAULT install\n');
    assert.deepEqual(cfg.oack, [{ name: 'tsize', value: '16' }]);
    assert.deepEqual(calls[0], { relPath: 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', peer: { address: '127.0.0.1', port: client.port }, localAddress: '127.0.0.1' });
    assert.equal((await craftedDownload(client, h.server.port, 'pxelinux.0')).bytes.toString(), 'generated loader');
    assert.deepEqual((await craftedDownload(client, h.server.port, 'small.bin')).bytes, files.small, 'undefined falls through to disk');
    await waitFor(() => h.served.length === 3);
    assert.deepEqual(
      h.served.map((e) => e.path),
      ['pxelinux.cfg/01-aa-bb-cc-dd-ee-ff', 'pxelinux.0', 'small.bin'],
    );
  } finally {
    await h.close();
  }
});

test('a generatedFile that throws gets ERROR 0 and an error log, and the server keeps serving', async () => {
  const h = await startHarness({
    generatedFile: (relPath) => {
      if (relPath === 'boom') throw new Error('template failed');
      return undefined;
    },
  });
  try {
    const client = await h.client();
    await expectError(client, h.server.port, rrq('boom'), 0);
    assert.ok(h.records.some((r) => r.level >= PINO_ERROR && r.msg === 'TFTP request failed'));
    assert.deepEqual((await craftedDownload(client, h.server.port, 'small.bin')).bytes, files.small);
  } finally {
    await h.close();
  }
});

test('netascii mode converts line ends', async () => {
  const h = await startHarness({ generatedFile: (p) => (p === 'text' ? 'a\nb\rc' : undefined) });
  try {
    const client = await h.client();
    const result = await craftedDownload(client, h.server.port, 'text', { mode: 'netascii', options: [['tsize', '0']] });
    assert.deepEqual(result.bytes, Buffer.from('a\r\nb\r\0c', 'latin1'));
    assert.deepEqual(result.oack, [{ name: 'tsize', value: '7' }], 'tsize is the size on the wire');
  } finally {
    await h.close();
  }
});

inBothModes('a stranger on the transfer port gets ERROR 5 and does not disturb the transfer', async (workers) => {
  const h = await startHarness({ timeoutMs: 5000, workers });
  try {
    const client = await h.client();
    const stranger = await h.client();
    client.send(rrq('small.bin'), h.server.port);
    const first = await client.next();
    assert.equal(first.packet?.kind, 'data');
    const tid = first.from.port;
    stranger.send(encodeAck(1), tid);
    const reply = await stranger.next();
    assert.deepEqual(reply.packet, { kind: 'error', code: 5, message: 'Unknown transfer ID' });
    assert.equal(reply.from.port, tid);
    stranger.send(encodeError(0, 'bounce me'), tid);
    assert.deepEqual(await stranger.collect(100), [], 'an ERROR from a stranger is not answered');
    assert.deepEqual(await client.collect(100), [], "the stranger's ACK did not advance the transfer");
    // The real peer carries on.
    let block = 1;
    for (;;) {
      client.send(encodeAck(block), tid);
      const data = await client.next();
      assert.ok(data.packet?.kind === 'data');
      block = data.packet.block;
      if (data.packet.payload.length < 512) break;
    }
    client.send(encodeAck(block), tid);
    await waitFor(() => h.served.length === 1);
    assert.equal(h.served[0]?.ok, true);
  } finally {
    await h.close();
  }
});

inBothModes('duplicate ACKs cause no resend; only new ACKs move the transfer', async (workers) => {
  const h = await startHarness({ timeoutMs: 5000, workers });
  try {
    const client = await h.client();
    client.send(rrq('small.bin'), h.server.port);
    const first = await client.next();
    const tid = first.from.port;
    client.send(encodeAck(1), tid);
    const second = await client.next();
    assert.ok(second.packet?.kind === 'data' && second.packet.block === 2);
    for (let i = 0; i < 5; i++) client.send(encodeAck(1), tid);
    assert.deepEqual(await client.collect(300), [], 'five duplicate ACK 1: no DATA');
    client.send(encodeAck(2), tid);
    const third = await client.collect(300);
    assert.equal(third.length, 1, 'exactly one DATA for ACK 2');
    assert.ok(third[0]?.packet?.kind === 'data' && third[0].packet.block === 3);
  } finally {
    await h.close();
  }
});

test('a duplicate request from the same port does not start a second transfer', async () => {
  const h = await startHarness({ timeoutMs: 5000 });
  try {
    const client = await h.client();
    client.send(rrq('small.bin'), h.server.port);
    client.send(rrq('small.bin'), h.server.port);
    const packets = await client.collect(300);
    assert.equal(packets.length, 1, 'one DATA 1, from one transfer');
  } finally {
    await h.close();
  }
});

inBothModes('windowsize with packet loss: the file still arrives intact', async (workers) => {
  const h = await startHarness({ timeoutMs: 50, workers });
  try {
    const client = await h.client();
    const result = await craftedDownload(client, h.server.port, 'medium.bin', {
      options: [['windowsize', '8'], ['blksize', '512']],
      dropData: (n) => n % 17 === 5 || n % 29 === 0, // in-window gaps and lost window starts
      dropAck: (n) => n % 11 === 3, // lost ACKs force timer resends
    });
    assert.deepEqual(result.oack, [{ name: 'windowsize', value: '8' }, { name: 'blksize', value: '512' }]);
    assert.deepEqual(result.bytes, files.medium);
    assert.ok(result.dataCount > 302, 'there were retransmissions');
    await waitFor(() => h.served.length === 1);
    assert.equal(h.served[0]?.ok, true);
  } finally {
    await h.close();
  }
});

inBothModes('files above the cache limit are streamed from disk, and every descriptor is closed afterwards', async (workers) => {
  const openDescriptors = () => readdirSync('/proc/self/fd').length;
  const before = openDescriptors();
  // 64 KiB of cache: files above 32 KiB (medium, large) are read from their descriptor in chunks.
  const h = await startHarness({ cacheBytes: 64 * 1024, timeoutMs: 50, workers });
  try {
    const client = await h.client();
    const medium = await craftedDownload(client, h.server.port, 'medium.bin', {
      options: [['windowsize', '8']],
      dropData: (n) => n % 23 === 7,
    });
    assert.deepEqual(medium.bytes, files.medium);
    // A fresh client port per transfer: a late duplicate of the medium transfer's last window
    // (legal when the machine is loaded) must not be mistaken for a second transfer ID.
    const second = await h.client();
    const large = await craftedDownload(second, h.server.port, 'large.bin', { options: [['blksize', '1468'], ['tsize', '0']] });
    assert.deepEqual(large.bytes, files.large);
    await expectError(await h.client(), h.server.port, rrq('large.bin', [], 'netascii'), 0);
    await waitFor(() => h.served.length === 2);
  } finally {
    await h.close();
  }
  await waitFor(() => openDescriptors() <= before);
});

test('lock-step with packet loss recovers through the retransmission timer', async () => {
  const h = await startHarness({ timeoutMs: 50 });
  try {
    const client = await h.client();
    const result = await craftedDownload(client, h.server.port, 'small.bin', { dropData: (n) => n % 3 === 1, dropAck: (n) => n === 4 });
    assert.deepEqual(result.bytes, files.small);
  } finally {
    await h.close();
  }
});

test('the client timeout option sets the retransmission interval', async () => {
  const h = await startHarness({ timeoutMs: 5000 });
  try {
    const client = await h.client();
    client.send(rrq('small.bin', [['timeout', '1']]), h.server.port);
    const oack = await client.next();
    assert.deepEqual(oack.packet, { kind: 'oack', options: [{ name: 'timeout', value: '1' }] });
    client.send(encodeAck(0), oack.from.port);
    const first = await client.next();
    const sentAt = Date.now();
    const again = await client.next(3000);
    const elapsed = Date.now() - sentAt;
    assert.ok(again.packet?.kind === 'data' && again.packet.block === 1);
    assert.ok(first.packet?.kind === 'data' && first.packet.block === 1);
    assert.ok(elapsed >= 850 && elapsed < 2000, `DATA 1 resent after ${elapsed} ms, expected about 1000`);
  } finally {
    await h.close();
  }
});

test('loopback clients may use blksize 65464', async () => {
  const h = await startHarness();
  try {
    const client = await h.client();
    const result = await craftedDownload(client, h.server.port, 'large.bin', { options: [['blksize', '65464']] });
    assert.deepEqual(result.oack, [{ name: 'blksize', value: '65464' }]);
    assert.deepEqual(result.bytes, files.large);
  } finally {
    await h.close();
  }
});

for (const code of [8, 0]) {
  inBothModes(`UEFI tsize probe ended with ERROR ${code}: clean end, no resend, nothing logged as error`, async (workers) => {
    const h = await startHarness({ timeoutMs: 100, workers });
    try {
      const client = await h.client();
      client.send(rrq('large.bin', [['tsize', '0'], ['blksize', '1468']]), h.server.port);
      const oack = await client.next();
      assert.deepEqual(oack.packet, {
        kind: 'oack',
        options: [
          { name: 'tsize', value: String(files.large.length) },
          { name: 'blksize', value: '1468' },
        ],
      });
      client.send(encodeError(code, 'tsize query'), oack.from.port);
      assert.deepEqual(await client.collect(400), [], 'no OACK retransmission after the abort');
      await waitFor(() => h.records.some((r) => r.msg === 'TFTP size probe ended by client'));
      assert.deepEqual(h.records.filter((r) => r.level >= 40), [], 'nothing at warn or error');
      assert.deepEqual(h.served, [], 'a size probe is not a served file');
      // The real download that follows works.
      assert.deepEqual((await craftedDownload(client, h.server.port, 'large.bin', { options: [['tsize', '0'], ['blksize', '1468']] })).bytes, files.large);
    } finally {
      await h.close();
    }
  });
}

test('a silent client is given up after maxRetries and reported as not ok', async () => {
  const h = await startHarness({ timeoutMs: 30, maxRetries: 2 });
  try {
    const client = await h.client();
    client.send(rrq('small.bin'), h.server.port);
    const packets = await client.collect(400);
    const kinds = packets.map((p) => (p.packet?.kind === 'error' ? `error ${p.packet.code}` : p.packet?.kind));
    assert.deepEqual(kinds, ['data', 'data', 'data', 'error 0'], 'DATA 1 and two resends, then ERROR');
    await waitFor(() => h.served.length === 1);
    assert.deepEqual(h.served[0], { path: 'small.bin', peer: { address: '127.0.0.1' }, bytes: 0, ok: false });
    assert.ok(h.records.some((r) => r.msg === 'TFTP transfer timed out' && r.level === 40));
  } finally {
    await h.close();
  }
});

test('more transfers than maxTransfers: the extra client is told the server is busy', async () => {
  const h = await startHarness({ maxTransfers: 1, timeoutMs: 5000 });
  try {
    const first = await h.client();
    const second = await h.client();
    first.send(rrq('small.bin'), h.server.port);
    await first.next();
    const message = await expectError(second, h.server.port, rrq('small.bin'), 0);
    assert.match(message, /busy/i);
  } finally {
    await h.close();
  }
});

inBothModes('close() aborts running transfers with an ERROR and releases every socket', async (workers) => {
  const h = await startHarness({ timeoutMs: 5000, workers });
  const client = await h.client();
  client.send(rrq('small.bin'), h.server.port);
  await client.next();
  await h.server.close();
  const reply = await client.next();
  assert.deepEqual(reply.packet, { kind: 'error', code: 0, message: 'Server shutting down' });
  await waitFor(() => h.served.length === 1);
  assert.equal(h.served[0]?.ok, false);
  await client.close();
});

inBothModes('fuzz: random datagrams to the listener and to a transfer port never take the server down', async (workers) => {
  const h = await startHarness({ timeoutMs: 5000, workers });
  try {
    const victim = await h.client();
    const noise = createSocket('udp4');
    await new Promise<void>((resolve) => noise.bind(0, '127.0.0.1', resolve));
    victim.send(rrq('medium.bin'), h.server.port);
    const first = await victim.next();
    const tid = first.from.port;
    const random = xorshift32(99);
    const datagram = () => {
      const bytes = Buffer.allocUnsafe(random() % 80);
      for (let j = 0; j < bytes.length; j++) bytes[j] = random() % 4 === 0 ? 0 : random() & 0xff;
      if (bytes.length >= 2 && random() % 2 === 0) bytes.writeUInt16BE((random() % 7) + 1, 0);
      return bytes;
    };
    for (let i = 0; i < 3000; i++) {
      noise.send(datagram(), h.server.port, '127.0.0.1');
      noise.send(datagram(), tid, '127.0.0.1');
      // Garbage from the peer itself, but never an ERROR or an ACK (those are legitimate moves).
      const own = datagram();
      if (own.length >= 2 && (own.readUInt16BE(0) === 4 || own.readUInt16BE(0) === 5)) own.writeUInt16BE(3, 0);
      victim.send(own, tid);
      // Pace the flood so it reaches the server instead of overflowing socket buffers.
      if (i % 20 === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await new Promise<void>((resolve) => noise.close(() => resolve()));
    await victim.collect(100);
    // The victim's transfer is still alive and the server still serves new clients.
    victim.send(encodeAck(1), tid);
    const next = await victim.next();
    assert.ok(next.packet?.kind === 'data');
    assert.equal(next.packet.block, 2);
    const fresh = await h.client();
    assert.deepEqual((await craftedDownload(fresh, h.server.port, 'small.bin')).bytes, files.small);
    assert.equal(h.records.filter((r) => r.level >= PINO_ERROR).length, 0, 'garbage is not an error');
  } finally {
    await h.close();
  }
});

test('a 1-byte datagram on a transfer port is dropped without harm', async () => {
  const h = await startHarness({ timeoutMs: 5000 });
  try {
    const client = await h.client();
    client.send(rrq('small.bin'), h.server.port);
    const first = await client.next();
    client.send(Buffer.from([4]), first.from.port);
    client.send(Buffer.alloc(0), first.from.port);
    assert.deepEqual(await client.collect(100), []);
    client.send(encodeAck(1), first.from.port);
    const second = await client.next();
    assert.ok(second.packet?.kind === 'data' && second.packet.block === 2);
    assert.ok(decodePacket(second.message).ok);
  } finally {
    await h.close();
  }
});

test('bad settings and a busy port fail startup with a message that says what to do', async () => {
  const { log } = captureLogger();
  await assert.rejects(startTftpServer({ root, port: 0, host: '127.0.0.1', log, maxBlksize: 4 }), /maxBlksize must be an integer from 8/);
  await assert.rejects(startTftpServer({ root, port: 0, host: '127.0.0.1', log, workers: -1 }), /workers must be an integer/);
  await assert.rejects(startTftpServer({ root: join(tmp.dir, 'nope'), port: 0, host: '127.0.0.1', log }), /TFTP root .* cannot be used/);
  const h = await startHarness();
  try {
    await assert.rejects(
      startTftpServer({ root, port: h.server.port, host: '127.0.0.1', log, workers: 0 }),
      /Cannot listen for TFTP on UDP 127\.0\.0\.1:\d+: .*Another TFTP server/,
    );
  } finally {
    await h.close();
  }
});

test('close() can be called twice', async () => {
  const h = await startHarness();
  await Promise.all([h.server.close(), h.server.close()]);
  await h.close();
});

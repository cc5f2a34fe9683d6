// The DATA phase as the native data pump runs it, against a hand-driven client on loopback: which
// blocks each ACK brings, what it must not bring (duplicates, stale ACKs: the Sorcerer's
// Apprentice), the 16-bit block number wrap, windows of every shape, and files handed over in chunks.
// A "nothing was sent" claim is checked with a marker: UDP on loopback keeps order, so after the
// ACK that must change nothing, a good ACK's window must be the very next thing to arrive.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { type DataPumpSpec, type NativeTransferSocket, openNativeTransferSocket } from '../../src/tftp/udp-native.js';
import { CraftedClient, patternBytes } from './helpers.js';

interface Pump {
  client: CraftedClient;
  socket: NativeTransferSocket;
  file: Buffer;
  /** Times the pump reported the last block acknowledged. */
  done: () => number;
  /** [offset, length] of every bytesFrom call. */
  fetches: Array<[number, number]>;
  ack(block: number): void;
  /** The next `count` DATA packets: wire block number and payload. */
  data(count: number): Promise<Array<{ block: number; payload: Buffer }>>;
}

async function startPump(t: TestContext, size: number, spec: Partial<DataPumpSpec> & { chunkBytes?: number } = {}): Promise<Pump> {
  const client = await CraftedClient.open();
  const file = patternBytes(size);
  const fetches: Array<[number, number]> = [];
  let done = 0;
  const socket = openNativeTransferSocket('127.0.0.1', { address: '127.0.0.1', port: client.port }, {
    onAck: () => assert.fail('an ACK reached JavaScript while the pump runs'),
    onDatagram: () => {},
  });
  t.after(async () => {
    socket.close();
    await client.close();
  });
  const chunkBytes = spec.chunkBytes ?? Number.POSITIVE_INFINITY;
  socket.startPump({
    size,
    blksize: 512,
    windowsize: 1,
    bytesFrom: (offset, length) => {
      fetches.push([offset, length]);
      return file.subarray(offset, Math.max(offset + length, Math.min(offset + chunkBytes, size)));
    },
    onDone: () => done++,
    onSendError: (errno) => assert.fail(`send failed: ${errno}`),
    ...spec,
  });
  return {
    client,
    socket,
    file,
    fetches,
    done: () => done,
    ack: (block) => client.send(Buffer.from([0, 4, block >> 8, block & 0xff]), socket.localPort),
    data: async (count) => {
      const packets: Array<{ block: number; payload: Buffer }> = [];
      while (packets.length < count) {
        const { packet, from } = await client.next();
        assert.equal(from.port, socket.localPort, 'DATA comes from the transfer port');
        assert.ok(packet?.kind === 'data', `expected DATA, got ${packet?.kind}`);
        packets.push({ block: packet.block, payload: Buffer.from(packet.payload) });
      }
      return packets;
    },
  };
}

const blocks = (packets: Array<{ block: number }>) => packets.map((p) => p.block);

/** Waits until the pump has reported the last block acknowledged; fails instead of hanging. */
async function doneReported(pump: Pump): Promise<void> {
  const deadline = Date.now() + 2000;
  while (pump.done() === 0) {
    if (Date.now() > deadline) assert.fail('the pump never reported the last block acknowledged');
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** ACKs the last block of every window until the pump reports done; returns the wire block numbers and the bytes. */
async function receiveAll(pump: Pump, windowsize: number): Promise<{ wire: number[]; bytes: Buffer }> {
  const wire: number[] = [];
  const parts: Buffer[] = [];
  const total = Math.floor(pump.file.length / 512) + 1;
  while (wire.length < total) {
    const window = await pump.data(Math.min(windowsize, total - wire.length));
    wire.push(...blocks(window));
    parts.push(...window.map((p) => p.payload));
    pump.ack(wire.at(-1) as number);
  }
  await doneReported(pump);
  return { wire, bytes: Buffer.concat(parts) };
}

test('lock-step: each ACK brings the next block, the last ACK ends the pump, progress is counted', async (t) => {
  const pump = await startPump(t, 1200);
  assert.deepEqual(blocks(await pump.data(1)), [1]);
  pump.ack(1);
  assert.deepEqual(blocks(await pump.data(1)), [2]);
  pump.ack(2);
  const [third] = await pump.data(1);
  assert.deepEqual(third, { block: 3, payload: pump.file.subarray(1024) });
  assert.equal(pump.socket.pumpProgress().acked, 2);
  pump.ack(3);
  await doneReported(pump);
  assert.equal(pump.done(), 1);
  assert.equal(pump.socket.pumpProgress().acked, 3);
  assert.deepEqual(await pump.client.collect(50), [], 'nothing after the last ACK');
});

test('a file of exactly N blocks ends with an empty block; a 0-byte file is one empty block', async (t) => {
  const exact = await startPump(t, 1024, { windowsize: 4 });
  const whole = await receiveAll(exact, 4);
  assert.deepEqual(whole.wire, [1, 2, 3]);
  assert.deepEqual(whole.bytes, exact.file);

  const empty = await startPump(t, 0);
  assert.deepEqual(await empty.data(1), [{ block: 1, payload: Buffer.alloc(0) }]);
  empty.ack(1);
  await doneReported(empty);
});

test('duplicate, stale and future ACKs send nothing (no Sorcerer\'s Apprentice)', async (t) => {
  const pump = await startPump(t, 5000);
  await pump.data(1);
  pump.ack(1);
  assert.deepEqual(blocks(await pump.data(1)), [2]);
  pump.ack(1); // duplicate
  pump.ack(0); // stale
  pump.ack(7); // beyond what was sent
  pump.ack(2); // the marker
  assert.deepEqual(blocks(await pump.data(1)), [3], 'the window after ACK 2 is the next datagram');
  assert.equal(pump.socket.pumpProgress().acked, 2);
});

test('windowsize: an ACK inside the window slides it to the block after (RFC 7440)', async (t) => {
  const pump = await startPump(t, 512 * 20 + 100, { windowsize: 4 });
  assert.deepEqual(blocks(await pump.data(4)), [1, 2, 3, 4]);
  pump.ack(2); // block 3 was lost: the client acknowledges the last block it has in order
  const slid = await pump.data(4);
  assert.deepEqual(blocks(slid), [3, 4, 5, 6]);
  assert.deepEqual(slid[0]?.payload, pump.file.subarray(2 * 512, 3 * 512));
  pump.ack(2); // repeated: changes nothing
  pump.ack(6);
  assert.deepEqual(blocks(await pump.data(4)), [7, 8, 9, 10]);
  pump.ack(4); // older than the window: stale
  pump.ack(10);
  assert.deepEqual(blocks(await pump.data(4)), [11, 12, 13, 14]);
});

test('resendWindow sends the current window again; progress tells how long ago it left', async (t) => {
  const pump = await startPump(t, 5000, { windowsize: 3 });
  await pump.data(3);
  pump.ack(3);
  assert.deepEqual(blocks(await pump.data(3)), [4, 5, 6]);
  await new Promise((resolve) => setTimeout(resolve, 60));
  const before = pump.socket.pumpProgress();
  assert.equal(before.acked, 3);
  assert.ok(before.msSinceWindowSent >= 40, `window left ${before.msSinceWindowSent} ms ago`);
  pump.socket.resendWindow();
  assert.ok(pump.socket.pumpProgress().msSinceWindowSent < before.msSinceWindowSent, 'the resend restarts the clock');
  assert.deepEqual(blocks(await pump.data(3)), [4, 5, 6]);
});

test('block numbers roll over from 65535 to 0, and after the wrap a mid-window ACK maps to the right block', async (t) => {
  // 70000 blocks of 8 bytes: crosses the 16-bit wrap once, in windows of 50 (one holds 65535, 0 and 1).
  const size = 8 * 70_000 + 3;
  const client = await startPump(t, size, { blksize: 8, windowsize: 50 });
  const total = 70_001;
  const wire: number[] = [];
  const parts: Buffer[] = [];
  let slidAfterWrap = false;
  while (wire.length < total) {
    const window = await client.data(Math.min(50, total - wire.length));
    const straddles = blocks(window).includes(65535) && blocks(window).includes(1);
    if (straddles && !slidAfterWrap) {
      // The client got up to wire block 0 (absolute 65536) and lost the rest: the window slides there.
      slidAfterWrap = true;
      const kept = window.slice(0, blocks(window).indexOf(0) + 1);
      wire.push(...blocks(kept));
      parts.push(...kept.map((p) => p.payload));
      client.ack(0);
      continue;
    }
    wire.push(...blocks(window));
    parts.push(...window.map((p) => p.payload));
    client.ack(wire.at(-1) as number);
  }
  await doneReported(client);
  assert.ok(slidAfterWrap);
  const wrapAt = wire.indexOf(65535);
  assert.deepEqual(wire.slice(wrapAt, wrapAt + 3), [65535, 0, 1]);
  assert.equal(wire.length, total);
  assert.deepEqual(Buffer.concat(parts), client.file.subarray(0, size));
});

test('windows of every shape arrive as one datagram per block, in order, through GSO or not', async (t) => {
  const shapes = [
    { name: '16 full blocks and a short last one', blksize: 1468, windowsize: 17, size: 16 * 1468 + 700 },
    { name: 'more blocks than one GSO send takes', blksize: 512, windowsize: 100, size: 512 * 150 },
    { name: 'blocks too large to batch (loopback blksize)', blksize: 65464, windowsize: 3, size: 2 * 65464 + 10 },
    { name: 'an empty last block', blksize: 512, windowsize: 3, size: 1024 },
  ];
  for (const shape of shapes) {
    const pump = await startPump(t, shape.size, { blksize: shape.blksize, windowsize: shape.windowsize });
    const total = Math.floor(shape.size / shape.blksize) + 1;
    const first = await pump.data(Math.min(shape.windowsize, total));
    assert.deepEqual(blocks(first), Array.from({ length: first.length }, (_, i) => i + 1), shape.name);
    first.forEach((packet, i) => assert.deepEqual(packet.payload, pump.file.subarray(i * shape.blksize, (i + 1) * shape.blksize), `${shape.name}: block ${i + 1}`));
  }
});

test('a file handed over in chunks is asked for again only past each chunk\'s end', async (t) => {
  const pump = await startPump(t, 10_000, { windowsize: 4, chunkBytes: 3000 });
  const whole = await receiveAll(pump, 4);
  assert.deepEqual(whole.bytes, pump.file, 'windows that straddle a chunk boundary arrive intact');
  assert.deepEqual(pump.fetches, [
    [0, 512],
    [2560, 512], // block 6 does not fit in 0..3000
    [5120, 512],
    [7680, 512],
  ]);
});

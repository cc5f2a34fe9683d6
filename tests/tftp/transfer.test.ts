import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BufferContent } from '../../src/tftp/content.js';
import { decodePacket, encodeOack } from '../../src/tftp/packet.js';
import { ReadTransfer, type TransferAction, type TransferSettings } from '../../src/tftp/transfer.js';
import { patternBytes } from './helpers.js';

function makeTransfer(size: number, overrides: Partial<TransferSettings> = {}): { transfer: ReadTransfer; file: Buffer } {
  const file = patternBytes(size);
  const transfer = new ReadTransfer({
    content: new BufferContent(file),
    blksize: 512,
    windowsize: 1,
    timeoutMs: 1000,
    maxRetries: 3,
    oack: undefined,
    ...overrides,
  });
  return { transfer, file };
}

/** The DATA packets among the actions, decoded: wire block number and payload. */
function dataSent(actions: readonly TransferAction[]): Array<{ block: number; payload: Buffer }> {
  const sent: Array<{ block: number; payload: Buffer }> = [];
  for (const action of actions) {
    if (action.kind !== 'send') continue;
    const decoded = decodePacket(Array.isArray(action.bytes) ? Buffer.concat(action.bytes) : action.bytes);
    if (decoded.ok && decoded.packet.kind === 'data') sent.push({ block: decoded.packet.block, payload: Buffer.from(decoded.packet.payload) });
  }
  return sent;
}

const blocksOf = (actions: readonly TransferAction[]) => dataSent(actions).map((d) => d.block);
const finishOf = (actions: readonly TransferAction[]) => actions.find((a) => a.kind === 'finish');

/** Plays a perfect client: ACKs the last block of every window, returns the reassembled file. */
function runLossless(transfer: ReadTransfer): { received: Buffer; finish: TransferAction | undefined } {
  const parts: Buffer[] = [];
  let actions = transfer.start();
  for (;;) {
    const sent = dataSent(actions);
    parts.push(...sent.map((d) => d.payload));
    const finish = finishOf(actions);
    if (finish || sent.length === 0) return { received: Buffer.concat(parts), finish };
    actions = transfer.receiveAck((sent[sent.length - 1] as { block: number }).block);
  }
}

test('lock-step transfer without options: DATA 1, 2, 3 then finish ok', () => {
  const { transfer, file } = makeTransfer(1200);
  const start = transfer.start();
  assert.deepEqual(blocksOf(start), [1]);
  assert.deepEqual(start.at(-1), { kind: 'arm-timer', ms: 1000 });
  assert.deepEqual(blocksOf(transfer.receiveAck(1)), [2]);
  const third = transfer.receiveAck(2);
  assert.deepEqual(blocksOf(third), [3]);
  assert.equal(dataSent(third)[0]?.payload.length, 1200 - 1024);
  const done = transfer.receiveAck(3);
  assert.deepEqual(done, [{ kind: 'finish', outcome: { ok: true, bytes: 1200 } }]);
  assert.equal(transfer.finished, true);
  assert.equal(transfer.bytesAcknowledged, file.length);
  assert.deepEqual(transfer.receiveAck(3), [], 'nothing after finishing');
  assert.deepEqual(transfer.timerFired(), []);
});

test('a file of exactly N blocks ends with an empty block; a 0-byte file is one empty block', () => {
  const exact = makeTransfer(1024);
  assert.equal(exact.transfer.totalBlocks, 3);
  const result = runLossless(exact.transfer);
  assert.deepEqual(result.received, exact.file);
  assert.equal(result.finish?.kind, 'finish');

  const empty = makeTransfer(0);
  const start = empty.transfer.start();
  assert.deepEqual(dataSent(start), [{ block: 1, payload: Buffer.alloc(0) }]);
  assert.deepEqual(empty.transfer.receiveAck(1), [{ kind: 'finish', outcome: { ok: true, bytes: 0 } }]);
});

test('a duplicate ACK sends nothing (no Sorcerer\'s Apprentice)', () => {
  const { transfer } = makeTransfer(5000);
  transfer.start();
  assert.deepEqual(blocksOf(transfer.receiveAck(1)), [2]);
  assert.deepEqual(transfer.receiveAck(1), [], 'duplicate ACK 1');
  assert.deepEqual(transfer.receiveAck(0), [], 'stale ACK 0');
  assert.deepEqual(transfer.receiveAck(7), [], 'ACK beyond what was sent');
  assert.deepEqual(blocksOf(transfer.receiveAck(2)), [3]);
});

test('timer resends the window, then gives up after maxRetries with ERROR and a timeout outcome', () => {
  const { transfer } = makeTransfer(5000, { windowsize: 4, maxRetries: 2 });
  assert.deepEqual(blocksOf(transfer.start()), [1, 2, 3, 4]);
  assert.deepEqual(blocksOf(transfer.receiveAck(4)), [5, 6, 7, 8]);
  assert.deepEqual(blocksOf(transfer.timerFired()), [5, 6, 7, 8]);
  assert.deepEqual(blocksOf(transfer.timerFired()), [5, 6, 7, 8]);
  const giveUp = transfer.timerFired();
  const error = giveUp.find((a) => a.kind === 'send');
  assert.ok(error && error.kind === 'send' && !Array.isArray(error.bytes));
  assert.deepEqual(decodePacket(error.bytes), { ok: true, packet: { kind: 'error', code: 0, message: 'Timed out' } });
  const finish = finishOf(giveUp);
  assert.ok(finish && finish.kind === 'finish' && !finish.outcome.ok);
  assert.equal(finish.outcome.ok === false && finish.outcome.reason, 'timeout');
  assert.equal(finish.outcome.bytes, 4 * 512);
});

test('progress resets the retry count', () => {
  const { transfer } = makeTransfer(5000, { maxRetries: 1 });
  transfer.start();
  assert.deepEqual(blocksOf(transfer.timerFired()), [1]);
  assert.deepEqual(blocksOf(transfer.receiveAck(1)), [2]);
  assert.deepEqual(blocksOf(transfer.timerFired()), [2], 'one retry allowed again after progress');
  assert.equal(finishOf(transfer.timerFired())?.kind, 'finish');
});

test('windowsize: an ACK inside the window slides it to the block after (RFC 7440)', () => {
  const { transfer, file } = makeTransfer(512 * 20 + 100, { windowsize: 4 });
  assert.deepEqual(blocksOf(transfer.start()), [1, 2, 3, 4]);
  // Block 3 was lost: the client acknowledges 2, the last block it has in order.
  const slid = transfer.receiveAck(2);
  assert.deepEqual(blocksOf(slid), [3, 4, 5, 6]);
  assert.deepEqual(dataSent(slid)[0]?.payload, file.subarray(2 * 512, 3 * 512));
  assert.deepEqual(transfer.receiveAck(2), [], 'the client repeating ACK 2 changes nothing');
  assert.deepEqual(blocksOf(transfer.receiveAck(6)), [7, 8, 9, 10]);
  assert.deepEqual(transfer.receiveAck(4), [], 'an ACK older than the window is stale');
});

test('retransmission backs off: the interval doubles per timeout up to 8x and resets on progress', () => {
  const { transfer } = makeTransfer(512 * 10, { maxRetries: 6 });
  const timerOf = (actions: readonly { kind: string; ms?: number }[]) => actions.find((a) => a.kind === 'arm-timer')?.ms;
  assert.equal(timerOf(transfer.start()), 1000);
  assert.deepEqual([1, 2, 3, 4].map(() => timerOf(transfer.timerFired())), [2000, 4000, 8000, 8000]);
  assert.equal(timerOf(transfer.receiveAck(1)), 1000, 'an ACK that advances resets the interval');
});

test('OACK first: ACK 0 starts DATA 1; the timer resends the OACK; other ACKs are ignored', () => {
  const oack = encodeOack([{ name: 'tsize', value: '5000' }]);
  const { transfer, file } = makeTransfer(5000, { oack, blksize: 1024, windowsize: 2 });
  assert.deepEqual(transfer.start(), [
    { kind: 'send', bytes: oack },
    { kind: 'arm-timer', ms: 1000 },
  ]);
  assert.deepEqual(transfer.receiveAck(1), []);
  assert.deepEqual(transfer.timerFired(), [
    { kind: 'send', bytes: oack },
    { kind: 'arm-timer', ms: 2000 },
  ]);
  const first = transfer.receiveAck(0);
  assert.deepEqual(blocksOf(first), [1, 2]);
  assert.deepEqual(dataSent(first)[1]?.payload, file.subarray(1024, 2048));
});

test('UEFI size probe: ERROR after the OACK ends the transfer as a size probe, nothing resent', () => {
  const oack = encodeOack([{ name: 'tsize', value: '5000' }]);
  const { transfer } = makeTransfer(5000, { oack });
  transfer.start();
  const actions = transfer.receive({ kind: 'error', code: 8, message: 'tsize probe' });
  assert.equal(actions.length, 1);
  const finish = finishOf(actions);
  assert.ok(finish && finish.kind === 'finish' && finish.outcome.ok === false);
  assert.equal(finish.outcome.reason, 'size-probe');
  assert.deepEqual(transfer.timerFired(), []);
});

test('ERROR from the peer mid-transfer ends it as peer-error', () => {
  const { transfer } = makeTransfer(5000);
  transfer.start();
  transfer.receiveAck(1);
  const finish = finishOf(transfer.receive({ kind: 'error', code: 0, message: 'user abort' }));
  assert.ok(finish && finish.kind === 'finish' && finish.outcome.ok === false);
  assert.equal(finish.outcome.reason, 'peer-error');
  assert.equal(finish.outcome.bytes, 512);
});

test('packets other than ACK and ERROR are ignored', () => {
  const { transfer } = makeTransfer(5000);
  transfer.start();
  assert.deepEqual(transfer.receive({ kind: 'data', block: 1, payload: Buffer.alloc(0) }), []);
  assert.deepEqual(transfer.receive({ kind: 'rrq', filename: 'x', mode: 'octet', options: [] }), []);
  assert.deepEqual(transfer.receive({ kind: 'oack', options: [] }), []);
});

test('block numbers roll over from 65535 to 0 and the file arrives whole', () => {
  // 70000 blocks of 8 bytes: crosses the 16-bit wrap once, in windows of 16.
  const { transfer, file } = makeTransfer(8 * 70_000 + 3, { blksize: 8, windowsize: 16 });
  const wire: number[] = [];
  const parts: Buffer[] = [];
  let actions = transfer.start();
  let finished = false;
  while (!finished) {
    const sent = dataSent(actions);
    for (const d of sent) {
      wire.push(d.block);
      parts.push(d.payload);
    }
    finished = finishOf(actions) !== undefined;
    if (!finished) actions = transfer.receiveAck((sent.at(-1) as { block: number }).block);
  }
  assert.deepEqual(Buffer.concat(parts), file);
  const wrapAt = wire.indexOf(65535);
  assert.deepEqual(wire.slice(wrapAt, wrapAt + 3), [65535, 0, 1]);
  assert.equal(wire.length, 70_001);
});

test('after the wrap, a mid-window ACK still maps to the right absolute block', () => {
  const { transfer, file } = makeTransfer(8 * 65_600, { blksize: 8, windowsize: 8 });
  let actions = transfer.start();
  // Acknowledge whole windows until the one that straddles the wrap is out.
  while (!blocksOf(actions).includes(0)) actions = transfer.receiveAck(blocksOf(actions).at(-1) as number);
  const straddling = blocksOf(actions);
  assert.ok(straddling.includes(65535) && straddling.includes(0));
  // The client got up to wire block 0 (absolute 65536), then lost the next one.
  const slid = dataSent(transfer.receiveAck(0));
  assert.equal(slid[0]?.block, 1);
  assert.deepEqual(slid[0]?.payload, file.subarray(65536 * 8, 65537 * 8));
});

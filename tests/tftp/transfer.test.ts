// The transfer's decisions, socket-free: when the DATA phase starts, when to wait, resend or give
// up, and how it ends. The DATA phase itself is tested against the real pump in data-pump.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodePacket, encodeOack } from '../../src/tftp/packet.js';
import { ReadTransfer, type TransferAction, type TransferSettings } from '../../src/tftp/transfer.js';

function makeTransfer(overrides: Partial<TransferSettings> = {}): ReadTransfer {
  return new ReadTransfer({ size: 5000, blksize: 512, timeoutMs: 1000, maxRetries: 3, oack: undefined, ...overrides });
}

const finishOf = (actions: readonly TransferAction[]) => {
  const finish = actions.find((a) => a.kind === 'finish');
  return finish?.kind === 'finish' ? finish.outcome : undefined;
};
const timerOf = (actions: readonly TransferAction[]) => {
  const timer = actions.find((a) => a.kind === 'arm-timer');
  return timer?.kind === 'arm-timer' ? timer.ms : undefined;
};
/** The pump has sent its window `ms` ago and the peer acknowledged `acked` blocks. */
const idle = (transfer: ReadTransfer, acked: number, ms: number) => transfer.progress({ acked, msSinceWindowSent: ms });

test('without options the DATA phase starts at once; the pump finishing ends the transfer ok', () => {
  const transfer = makeTransfer();
  assert.deepEqual(transfer.start(), [{ kind: 'start-data' }, { kind: 'arm-timer', ms: 1000 }]);
  assert.deepEqual(transfer.dataDone(), [{ kind: 'finish', outcome: { ok: true, bytes: 5000 } }]);
  assert.equal(transfer.finished, true);
  assert.equal(transfer.bytesAcknowledged, 5000);
  assert.deepEqual(transfer.timerFired(), [], 'nothing after finishing');
  assert.deepEqual(transfer.dataDone(), []);
});

test('a file of exactly N blocks has N + 1 (the last one empty); a 0-byte file has one', () => {
  assert.equal(makeTransfer({ size: 1024 }).totalBlocks, 3);
  assert.equal(makeTransfer({ size: 1025 }).totalBlocks, 3);
  assert.equal(makeTransfer({ size: 0 }).totalBlocks, 1);
});

test('the timer waits out the rest of the interval when the pump sent a window since it was armed', () => {
  const transfer = makeTransfer();
  transfer.start();
  idle(transfer, 4, 300);
  assert.deepEqual(transfer.timerFired(), [{ kind: 'arm-timer', ms: 700 }]);
});

test('no progress: resends back off 1, 2, 4, 8, 8 s apart, and the pump is looked at at least once a second', () => {
  const transfer = makeTransfer({ maxRetries: 6 });
  let now = 0;
  let windowSentAt = 0;
  let nextFire = timerOf(transfer.start()) as number;
  const resends: number[] = [];
  while (resends.length < 5) {
    now = nextFire;
    idle(transfer, 2, now - windowSentAt);
    const actions = transfer.timerFired();
    if (actions[0]?.kind === 'resend-window') {
      resends.push(now);
      windowSentAt = now;
    }
    const ms = timerOf(actions) as number;
    assert.ok(ms > 0 && ms <= 1000, `armed for ${ms} ms`);
    nextFire = now + ms;
  }
  assert.deepEqual(resends, [1000, 3000, 7000, 15000, 23000]);
});

test('progress after a backed-off resend: a window lost then is resent 1 s after it left, not 4 s', () => {
  const transfer = makeTransfer();
  let nextFire = timerOf(transfer.start()) as number;
  let windowSentAt = 0;
  let acked = 2;
  const resends: number[] = [];
  // Resends at 1 s and 3 s (the next one backed off to 4 s later); at 3.1 s an ACK moves the
  // window and the pump sends the next one, which is lost.
  while (resends.length < 3) {
    const now = nextFire;
    if (now >= 3100 && acked === 2) {
      acked = 3;
      windowSentAt = 3100;
    }
    idle(transfer, acked, now - windowSentAt);
    const actions = transfer.timerFired();
    if (actions[0]?.kind === 'resend-window') {
      resends.push(now);
      windowSentAt = now;
    }
    nextFire = now + (timerOf(actions) as number);
  }
  assert.deepEqual(resends, [1000, 3000, 4100]);
});

test('gives up after maxRetries resends without progress, with ERROR and a timeout outcome', () => {
  const transfer = makeTransfer({ maxRetries: 2 });
  transfer.start();
  idle(transfer, 4, 1000);
  assert.equal(transfer.timerFired()[0]?.kind, 'resend-window');
  idle(transfer, 4, 2000);
  assert.equal(transfer.timerFired()[0]?.kind, 'resend-window');
  idle(transfer, 4, 4000);
  const giveUp = transfer.timerFired();
  const error = giveUp[0];
  assert.ok(error?.kind === 'send');
  assert.deepEqual(decodePacket(error.bytes), { ok: true, packet: { kind: 'error', code: 0, message: 'Timed out' } });
  assert.deepEqual(finishOf(giveUp), { ok: false, reason: 'timeout', bytes: 4 * 512, detail: 'no answer after 2 retransmissions' });
  assert.equal(transfer.finished, true);
});

test('a peer silent after the last block is told apart: it may have the whole file', () => {
  const transfer = makeTransfer({ size: 1000, maxRetries: 0 });
  transfer.start();
  idle(transfer, 1, 1000);
  assert.deepEqual(finishOf(transfer.timerFired()), { ok: false, reason: 'timeout', bytes: 512, detail: 'no ACK for the last block (the client may have the whole file)' });
});

test('OACK first: resent by the timer with back-off, other ACKs ignored, ACK 0 starts the DATA phase', () => {
  const oack = encodeOack([{ name: 'tsize', value: '5000' }]);
  const transfer = makeTransfer({ oack });
  assert.deepEqual(transfer.start(), [
    { kind: 'send', bytes: oack },
    { kind: 'arm-timer', ms: 1000 },
  ]);
  assert.deepEqual(transfer.receiveAck(1), []);
  assert.deepEqual(transfer.timerFired(), [
    { kind: 'send', bytes: oack },
    { kind: 'arm-timer', ms: 2000 },
  ]);
  assert.deepEqual(transfer.receiveAck(0), [{ kind: 'start-data' }, { kind: 'arm-timer', ms: 1000 }], 'retry count reset');
  assert.deepEqual(transfer.receiveAck(0), [], 'a repeated ACK 0 does not start a second pump');
});

test('UEFI size probe: ERROR after the OACK ends the transfer as a size probe, nothing resent', () => {
  const transfer = makeTransfer({ oack: encodeOack([{ name: 'tsize', value: '5000' }]) });
  transfer.start();
  const actions = transfer.receive({ kind: 'error', code: 8, message: 'tsize probe' });
  assert.equal(actions.length, 1);
  assert.deepEqual(finishOf(actions), { ok: false, reason: 'size-probe', bytes: 0, detail: 'client sent ERROR 8 (tsize probe)' });
  assert.deepEqual(transfer.timerFired(), []);
});

test('ERROR from the peer mid-transfer ends it as peer-error with the bytes acknowledged so far', () => {
  const transfer = makeTransfer();
  transfer.start();
  idle(transfer, 1, 0);
  assert.deepEqual(finishOf(transfer.receive({ kind: 'error', code: 0, message: 'user abort' })), { ok: false, reason: 'peer-error', bytes: 512, detail: 'client sent ERROR 0 (user abort)' });
});

test('packets other than ACK and ERROR are ignored', () => {
  const transfer = makeTransfer();
  transfer.start();
  assert.deepEqual(transfer.receive({ kind: 'data', block: 1, payload: Buffer.alloc(0) }), []);
  assert.deepEqual(transfer.receive({ kind: 'rrq', filename: 'x', mode: 'octet', options: [] }), []);
  assert.deepEqual(transfer.receive({ kind: 'oack', options: [] }), []);
  assert.deepEqual(transfer.receive({ kind: 'ack', block: 1 }), [], 'ACKs during the DATA phase are the pump\'s');
});

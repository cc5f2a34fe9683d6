// A transfer on its socket when something fails under it: the file it is streaming shrinks, or
// the kernel refuses a send. Either way that one transfer ends, cleanly and once, with a reason.
import assert from 'node:assert/strict';
import { openSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { BufferContent, type FileContent, StreamedFileContent } from '../../src/tftp/content.js';
import { ReadTransfer } from '../../src/tftp/transfer.js';
import { type TransferEnd, TransferSocket } from '../../src/tftp/transfer-socket.js';
import { captureLogger, CraftedClient, makeTempDir, PINO_ERROR, patternBytes } from './helpers.js';

let tmp: Awaited<ReturnType<typeof makeTempDir>>;
before(async () => {
  tmp = await makeTempDir();
});
after(() => tmp.cleanup());

function startTransfer(peerPort: number, content: FileContent, windowsize: number) {
  const { log, records } = captureLogger();
  let resolveEnd: (end: TransferEnd) => void = () => {};
  const ended = new Promise<TransferEnd>((resolve) => (resolveEnd = resolve));
  let ends = 0;
  const transfer = new ReadTransfer({ size: content.size, blksize: 512, timeoutMs: 1000, maxRetries: 3, oack: undefined });
  const socket = TransferSocket.open({
    bindAddress: '127.0.0.1',
    peer: { address: '127.0.0.1', port: peerPort },
    transfer,
    data: { content, blksize: 512, windowsize },
    log,
    onEnd: (end) => {
      ends++;
      resolveEnd(end);
    },
  });
  socket.start();
  return { socket, records, ended, ends: () => ends };
}

test('a streamed file that shrinks mid-transfer ends that transfer with ERROR 0 to the client and an internal-error', async (t) => {
  const path = join(tmp.dir, 'shrinks.bin');
  writeFileSync(path, patternBytes(10_000));
  const content = new StreamedFileContent(openSync(path, 'r'), 10_000, 2048);
  truncateSync(path, 3000); // the first 2048-byte chunk is still there, the second is not
  const client = await CraftedClient.open();
  t.after(() => client.close());
  const run = startTransfer(client.port, content, 4);
  t.after(() => content.release());

  const window = await Promise.all([1, 2, 3, 4].map(() => client.next()));
  assert.deepEqual(
    window.map((r) => (r.packet?.kind === 'data' ? r.packet.block : r.packet?.kind)),
    [1, 2, 3, 4],
  );
  client.send(Buffer.from([0, 4, 0, 4]), run.socket.localPort);
  const error = await client.next();
  assert.deepEqual(error.packet, { kind: 'error', code: 0, message: 'Internal server error' });
  const end = await run.ended;
  assert.equal(end.ok, false);
  assert.ok(!end.ok && end.reason === 'internal-error' && /shrank/.test(end.detail), JSON.stringify(end));
  assert.equal(end.bytes, 2048);
  assert.ok(run.records.some((r) => r.level === PINO_ERROR && r.msg === 'TFTP transfer failed'));
  assert.deepEqual(await client.collect(100), [], 'nothing after the ERROR');
  assert.equal(run.ends(), 1);
});

test('a send the kernel refuses for good (not a full queue or an ICMP report) ends the transfer as socket-error', async () => {
  // UDP port 0 is no destination: sendmsg fails with EINVAL and nothing leaves the host.
  const run = startTransfer(0, new BufferContent(patternBytes(5000)), 4);
  const end = await run.ended;
  assert.deepEqual(end, { ok: false, reason: 'socket-error', bytes: 0, detail: 'send to 127.0.0.1:0 failed: EINVAL' });
  assert.equal(run.ends(), 1);
});

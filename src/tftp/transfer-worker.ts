// Entry point of a transfer worker thread: runs the transfers the main thread posts to it, so the
// per-packet work (one receive and one send system call per block) spreads over several cores.
import { parentPort } from 'node:worker_threads';
import { type FromWorker, type RunningTransfer, runTransferJob, type ToWorker } from './transfer-job.js';
import type { TransferLog } from './transfer-socket.js';

const port = parentPort;
if (!port) throw new Error('transfer-worker must run as a worker thread');

const running = new Map<number, RunningTransfer>();
const post = (message: FromWorker) => port.postMessage(message);

/** Errors do not survive postMessage's structured clone as-is: keep what a log line needs. */
function serializable(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = value instanceof Error ? { type: value.name, message: value.message, stack: value.stack } : value;
  }
  return out;
}

function logFor(id: number, debugLogging: boolean): TransferLog {
  return {
    debug: (fields, message) => {
      if (debugLogging) post({ type: 'log', id, level: 'debug', fields: serializable(fields), message });
    },
    error: (fields, message) => post({ type: 'log', id, level: 'error', fields: serializable(fields), message }),
  };
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'start') {
    const { id, job } = message;
    runTransferJob(job, logFor(id, job.debugLogging), (end) => {
      running.delete(id);
      post({ type: 'end', id, end });
    }).then(
      (transfer) => {
        running.set(id, transfer);
        post({ type: 'started', id });
      },
      (error: unknown) => post({ type: 'start-failed', id, message: (error as Error).message }),
    );
  } else if (message.type === 'abort') {
    void running.get(message.id)?.abort(message.detail);
  }
});

post({ type: 'ready' });

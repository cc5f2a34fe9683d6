// A transfer described as plain data, so it can run in this thread or be posted to a worker
// thread, and the one function that runs such a description on its own socket.
import { type ContentSpec, openContent } from './content.js';
import { ReadTransfer } from './transfer.js';
import { type Peer, type TransferEnd, type TransferLog, TransferSocket } from './transfer-socket.js';

export interface TransferJob {
  bindAddress: string;
  peer: Peer;
  content: ContentSpec;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  maxRetries: number;
  /** Encoded OACK, or undefined when no option was accepted. */
  oack: Uint8Array | undefined;
  /** Whether debug lines are wanted, so a worker does not post lines the logger would drop. */
  debugLogging: boolean;
}

/** A transfer under way, wherever it runs. */
export interface RunningTransfer {
  /** Ends it now, telling the peer; resolves once it has ended. */
  abort(detail: string): Promise<void>;
}

/**
 * Binds the transfer's socket and sends its first packet. Takes ownership of the job's content:
 * released when the transfer ends, or before rejecting when the socket cannot be bound.
 */
export async function runTransferJob(job: TransferJob, log: TransferLog, onEnd: (end: TransferEnd) => void): Promise<RunningTransfer> {
  const content = openContent(job.content);
  const transfer = new ReadTransfer({
    size: content.size,
    blksize: job.blksize,
    timeoutMs: job.timeoutMs,
    maxRetries: job.maxRetries,
    oack: job.oack === undefined ? undefined : Buffer.from(job.oack.buffer, job.oack.byteOffset, job.oack.byteLength),
  });
  let socket: TransferSocket;
  try {
    socket = TransferSocket.open({
      bindAddress: job.bindAddress,
      peer: job.peer,
      transfer,
      data: { content, blksize: job.blksize, windowsize: job.windowsize },
      log,
      onEnd: (end) => {
        content.release();
        onEnd(end);
      },
    });
  } catch (error) {
    content.release();
    throw error;
  }
  socket.start();
  return { abort: (detail) => socket.abort(detail) };
}

/** Messages from the main thread to a transfer worker. */
export type ToWorker = { type: 'start'; id: number; job: TransferJob } | { type: 'abort'; id: number; detail: string };

/** Messages from a transfer worker to the main thread. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'started'; id: number }
  | { type: 'start-failed'; id: number; message: string }
  | { type: 'log'; id: number; level: 'debug' | 'error'; fields: Record<string, unknown>; message: string }
  | { type: 'end'; id: number; end: TransferEnd };

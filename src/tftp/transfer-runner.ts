// Where transfers run: in the main thread, or spread over a pool of worker threads. Node 20's
// dgram has no SO_REUSEPORT, so the well-known port stays in the main thread, which decides what
// to serve; only the per-packet work of each transfer (its own socket) moves to a worker.
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { type FromWorker, type RunningTransfer, runTransferJob, type ToWorker, type TransferJob } from './transfer-job.js';
import type { TransferEnd, TransferLog } from './transfer-socket.js';

export interface TransferRunner {
  /** Starts a transfer; resolves once its socket is bound and its first packet sent. Owns the job's content from here. */
  start(job: TransferJob, log: TransferLog, onEnd: (end: TransferEnd) => void): Promise<RunningTransfer>;
  /** Frees the runner's threads; call after every transfer has ended. */
  close(): Promise<void>;
}

export const inThreadRunner: TransferRunner = {
  start: runTransferJob,
  close: async () => {},
};

interface WorkerTransfer {
  log: TransferLog;
  onEnd: (end: TransferEnd) => void;
  started: { resolve: (running: RunningTransfer) => void; reject: (error: Error) => void } | undefined;
  ended: Promise<void>;
  markEnded: () => void;
}

interface WorkerSlot {
  worker: Worker;
  transfers: Map<number, WorkerTransfer>;
}

const runningFromSources = import.meta.url.endsWith('.ts');
const workerUrl = new URL(runningFromSources ? './transfer-worker.ts' : './transfer-worker.js', import.meta.url);

function createWorker(): Worker {
  if (!runningFromSources) return new Worker(workerUrl);
  // Under tsx (tests, development), Node 20 does not carry tsx's loader hooks into worker
  // threads: register them in the worker before importing the TypeScript entry point.
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true });
}

export class WorkerPoolRunner implements TransferRunner {
  private readonly slots: WorkerSlot[] = [];
  private nextId = 0;
  private closing = false;

  private constructor(private readonly log: Logger) {}

  /** Starts `count` workers and waits until each has loaded. */
  static async create(count: number, log: Logger): Promise<WorkerPoolRunner> {
    const pool = new WorkerPoolRunner(log);
    try {
      for (let i = 0; i < count; i++) pool.slots.push(await pool.spawn());
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get size(): number {
    return this.slots.length;
  }

  private spawn(): Promise<WorkerSlot> {
    const worker = createWorker();
    const slot: WorkerSlot = { worker, transfers: new Map() };
    return new Promise((resolve, reject) => {
      const failed = (error: Error) => reject(new Error(`TFTP transfer worker did not start: ${error.message}`));
      worker.once('error', failed);
      worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') {
          worker.off('error', failed);
          worker.on('error', (error) => this.workerDied(slot, error));
          worker.on('exit', (code) => this.workerDied(slot, new Error(`exited with code ${code}`)));
          resolve(slot);
        } else {
          this.onWorkerMessage(slot, message);
        }
      });
    });
  }

  start(job: TransferJob, log: TransferLog, onEnd: (end: TransferEnd) => void): Promise<RunningTransfer> {
    if (this.closing || this.slots.length === 0) return Promise.reject(new Error('TFTP transfer workers are closed'));
    // The least busy worker takes it: transfers differ wildly in length, round-robin would not balance.
    let slot = this.slots[0] as WorkerSlot;
    for (const candidate of this.slots) if (candidate.transfers.size < slot.transfers.size) slot = candidate;
    const id = ++this.nextId;
    let markEnded = () => {};
    const ended = new Promise<void>((resolve) => (markEnded = resolve));
    return new Promise((resolve, reject) => {
      slot.transfers.set(id, { log, onEnd, started: { resolve, reject }, ended, markEnded });
      const message: ToWorker = { type: 'start', id, job };
      slot.worker.postMessage(message);
    });
  }

  private onWorkerMessage(slot: WorkerSlot, message: FromWorker): void {
    if (message.type === 'ready') return;
    const transfer = slot.transfers.get(message.id);
    if (!transfer) return;
    switch (message.type) {
      case 'started':
        transfer.started?.resolve({
          abort: (detail) => {
            const abort: ToWorker = { type: 'abort', id: message.id, detail };
            slot.worker.postMessage(abort);
            return transfer.ended;
          },
        });
        transfer.started = undefined;
        break;
      case 'start-failed':
        slot.transfers.delete(message.id);
        transfer.started?.reject(new Error(message.message));
        transfer.markEnded();
        break;
      case 'log':
        transfer.log[message.level](message.fields, message.message);
        break;
      case 'end':
        slot.transfers.delete(message.id);
        transfer.onEnd(message.end);
        transfer.markEnded();
        break;
    }
  }

  /** A worker crashed (a bug): end its transfers as failed and put a fresh worker in its place. */
  private workerDied(slot: WorkerSlot, error: Error): void {
    const index = this.slots.indexOf(slot);
    if (index === -1) return; // already handled ('error' is followed by 'exit')
    this.slots.splice(index, 1);
    if (!this.closing) this.log.error({ err: error, transfers: slot.transfers.size }, 'TFTP transfer worker died');
    for (const transfer of slot.transfers.values()) {
      if (transfer.started) transfer.started.reject(new Error('TFTP transfer worker died'));
      else transfer.onEnd({ ok: false, reason: 'internal-error', bytes: 0, detail: 'transfer worker died' });
      transfer.markEnded();
    }
    slot.transfers.clear();
    if (!this.closing) {
      this.spawn().then(
        (fresh) => (this.closing ? void fresh.worker.terminate() : this.slots.push(fresh)),
        (spawnError: unknown) => this.log.error({ err: spawnError }, 'TFTP transfer worker could not be replaced'),
      );
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const slots = this.slots.splice(0);
    await Promise.all(slots.map((slot) => slot.worker.terminate()));
  }
}

// One measured batch against one server: throughput, completed transfers, peak RSS and CPU.
import { type BatchRequest, runBatch } from './clients.js';
import { type ClientSpec, MiB } from './config.js';
import type { LossCounters, LossyLink } from './netns.js';
import { ServerSampler } from './server-sampler.js';
import type { RunningServer, ServerName } from './servers.js';

export interface RowSpec {
  suite: 'loopback' | 'loss';
  concurrency: number;
  client: ClientSpec;
  blksize: number;
  payloadBytes: number;
}

export interface Measurement {
  server: ServerName;
  started: number;
  completed: number;
  wallMs: number;
  /** Bytes of verified copies / wall time of the batch. */
  mibPerSecond: number;
  peakRssBytes: number;
  /** CPU the server (and, for tftpd-hpa, its forked children) used during the batch. */
  cpuSeconds: number;
  /** Packets the lossy link saw and dropped during the batch (loss run only). */
  loss?: LossCounters;
  failures: string[];
  /** Why the batch did not run (time budget). */
  skipped?: string;
  /** How many runs were combined (median), when more than one. */
  repetitions?: number;
}

export function skippedMeasurement(server: ServerName, started: number, reason: string): Measurement {
  return { server, started, completed: 0, wallMs: 0, mibPerSecond: 0, peakRssBytes: 0, cpuSeconds: 0, failures: [], skipped: reason };
}

export type MeasureRequest = Omit<BatchRequest, 'target'> & {
  payloadBytes: number;
  /** Namespace the clients run in (loss run). */
  clientNamespace?: string;
};

export async function measureBatch(server: RunningServer, request: MeasureRequest, link?: LossyLink): Promise<Measurement> {
  const lossBefore = await link?.counters();
  const sampler = new ServerSampler(server.pid);
  const batch = await runBatch({ ...request, target: { host: server.host, port: server.port, namespace: request.clientNamespace } });
  const { peakRssBytes, cpuSeconds } = sampler.stop();
  const lossAfter = await link?.counters();
  const payloadBytes = request.payloadBytes;
  return {
    server: server.name,
    started: batch.started,
    completed: batch.completed,
    wallMs: batch.wallMs,
    mibPerSecond: (batch.completed * payloadBytes) / MiB / (batch.wallMs / 1000),
    peakRssBytes,
    cpuSeconds,
    loss: lossBefore && lossAfter ? { seen: lossAfter.seen - lossBefore.seen, dropped: lossAfter.dropped - lossBefore.dropped } : undefined,
    failures: batch.failures,
  };
}

/**
 * Several runs of one batch as one: the median run's throughput, wall time and CPU, the highest
 * RSS, and the transfers and failures of all runs (so "completed" still counts every transfer).
 */
export function combineRepetitions(runs: Measurement[]): Measurement {
  const measured = runs.filter((run) => !run.skipped);
  if (measured.length === 0) return runs[0] as Measurement;
  const byRate = [...measured].sort((a, b) => a.mibPerSecond - b.mibPerSecond);
  const median = byRate[Math.floor((byRate.length - 1) / 2)] as Measurement;
  return {
    ...median,
    started: measured.reduce((sum, run) => sum + run.started, 0),
    completed: measured.reduce((sum, run) => sum + run.completed, 0),
    peakRssBytes: Math.max(...measured.map((run) => run.peakRssBytes)),
    failures: measured.flatMap((run) => run.failures),
    repetitions: measured.length > 1 ? measured.length : undefined,
  };
}

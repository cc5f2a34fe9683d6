// The two suites: every loopback row, then the loss run in network namespaces. Each row runs the
// same batch against kickstand and tftpd-hpa, alternating which goes first to spread drift.
import { join } from 'node:path';
import { runBatch, waitUntilServing } from './clients.js';
import { CLEAN_RUN, LOSS_NETWORK, LOSS_RUN, PROBE_NAME } from './config.js';
import { combineRepetitions, type Measurement, measureBatch, type RowSpec, skippedMeasurement } from './measure.js';
import { LossyLink, type LossMethod } from './netns.js';
import type { Row } from './report.js';
import { freeUdpPort, type Placement, type RunningServer, type ServerName, startKickstand, startTftpdHpa } from './servers.js';
import type { Payload, Workspace } from './workspace.js';

/** Rows stop being started once the bench's time budget is spent; transfers never outlive it. */
export class Budget {
  private readonly deadline: number;

  constructor(
    readonly startedAt: number,
    budgetMs: number,
  ) {
    this.deadline = startedAt + budgetMs;
  }

  remainingMs(): number {
    return this.deadline - Date.now();
  }

  elapsedSeconds(): number {
    return (Date.now() - this.startedAt) / 1000;
  }
}

/** A batch shorter than this is not worth starting: it would only be cut off. */
const MIN_BATCH_MS = 15_000;
const TFTPD_HPA_MAX_BLKSIZE = 1468;

export interface SuiteContext {
  workspace: Workspace;
  launcherPath: string;
  budget: Budget;
  /** Progress lines go here (stderr), so stdout carries only the final tables. */
  progress: (line: string) => void;
  /** Called after every batch to track the machine's load while the bench ran. */
  noteLoad: () => void;
}

interface ServerPair {
  kickstand: RunningServer;
  tftpdHpa: RunningServer;
}

async function startPair(context: SuiteContext, placement: Placement, tftpdHpaPort: number, clientNamespace?: string): Promise<ServerPair> {
  const kickstand = await startKickstand({ launcherPath: context.launcherPath, root: context.workspace.root, placement });
  const tftpdHpa = await startTftpdHpa({ root: context.workspace.root, placement, port: tftpdHpaPort, maxBlksize: TFTPD_HPA_MAX_BLKSIZE });
  for (const server of [kickstand, tftpdHpa]) {
    await waitUntilServing({ host: server.host, port: server.port, namespace: clientNamespace }, PROBE_NAME);
  }
  return { kickstand, tftpdHpa };
}

async function stopPair(context: SuiteContext, pair: ServerPair | undefined): Promise<void> {
  if (!pair) return;
  // kickstand logs at warn and above only: anything there (timeouts, errors) explains failures.
  const warnings = pair.kickstand.stderrTail().trim();
  if (warnings) context.progress(`kickstand stderr (last lines):\n${warnings.split('\n').slice(-10).join('\n')}`);
  await pair.kickstand.stop();
  await pair.tftpdHpa.stop();
}

/** One unmeasured transfer per server: loads kickstand's cache and the page cache, warms the JIT. */
async function warmUp(pair: ServerPair, payload: Payload, workDir: string, blksize: number): Promise<void> {
  for (const server of [pair.kickstand, pair.tftpdHpa]) {
    const result = await runBatch({
      spec: { program: 'curl', windowsize: 1 },
      blksize,
      concurrency: 1,
      target: { host: server.host, port: server.port },
      remoteName: payload.name,
      expectedSha256: payload.sha256,
      outDir: join(workDir, `warm-up-${server.name}`),
      transferTimeoutMs: 120_000,
    });
    if (result.completed !== 1) throw new Error(`warm-up transfer from ${server.name} failed: ${result.failures.join('; ')}`);
  }
}

function describe(spec: RowSpec): string {
  return `${spec.suite} ${spec.concurrency} × ${spec.client.program} blksize ${spec.blksize} windowsize ${spec.client.windowsize}`;
}

function brief(m: Measurement): string {
  if (m.skipped) return `${m.server} skipped`;
  return `${m.server} ${m.mibPerSecond.toFixed(1)} MiB/s${m.repetitions ? ` (median of ${m.repetitions})` : ''} ${m.completed}/${m.started} rss ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB cpu ${m.cpuSeconds.toFixed(1)} s`;
}

async function runRow(
  context: SuiteContext,
  pair: ServerPair,
  spec: RowSpec,
  rowIndex: number,
  payload: Payload,
  timeoutMs: number,
  repetitions: number,
  link?: LossyLink,
): Promise<Row> {
  const runs = new Map<ServerName, Measurement[]>([
    ['kickstand', []],
    ['tftpd-hpa', []],
  ]);
  for (let repetition = 0; repetition < repetitions; repetition++) {
    // Alternate which server goes first, so drift in background load does not favour either.
    const order = (rowIndex + repetition) % 2 === 0 ? [pair.kickstand, pair.tftpdHpa] : [pair.tftpdHpa, pair.kickstand];
    for (const server of order) {
      const remaining = context.budget.remainingMs();
      const measurement =
        remaining < MIN_BATCH_MS
          ? skippedMeasurement(server.name, spec.concurrency, 'time budget spent')
          : await measureBatch(
              server,
              {
                spec: spec.client,
                blksize: spec.blksize,
                concurrency: spec.concurrency,
                remoteName: payload.name,
                expectedSha256: payload.sha256,
                payloadBytes: payload.bytes,
                outDir: join(context.workspace.dir, `out-${rowIndex}-${repetition}-${server.name}`),
                transferTimeoutMs: Math.min(timeoutMs, remaining),
                clientNamespace: link?.clientNs,
              },
              link,
            );
      runs.get(server.name)?.push(measurement);
      context.noteLoad();
    }
  }
  const row: Row = {
    spec,
    kickstand: combineRepetitions(runs.get('kickstand') as Measurement[]),
    tftpdHpa: combineRepetitions(runs.get('tftpd-hpa') as Measurement[]),
  };
  context.progress(`[${context.budget.elapsedSeconds().toFixed(0).padStart(4)} s] ${describe(spec)}: ${brief(row.kickstand)} | ${brief(row.tftpdHpa)}`);
  return row;
}

export async function runLoopbackSuite(context: SuiteContext): Promise<Row[]> {
  const host = '127.0.0.1';
  let pair: ServerPair | undefined;
  try {
    pair = await startPair(context, { host }, await freeUdpPort(host));
    await warmUp(pair, context.workspace.payload, context.workspace.dir, 1468);
    const rows: Row[] = [];
    for (const concurrency of CLEAN_RUN.concurrencies) {
      for (const blksize of CLEAN_RUN.blksizes) {
        for (const client of CLEAN_RUN.clients) {
          const spec: RowSpec = { suite: 'loopback', concurrency, client, blksize, payloadBytes: context.workspace.payload.bytes };
          rows.push(await runRow(context, pair, spec, rows.length, context.workspace.payload, CLEAN_RUN.transferTimeoutMs, CLEAN_RUN.repetitions(concurrency)));
        }
      }
    }
    return rows;
  } finally {
    await stopPair(context, pair);
  }
}

export interface LossSuiteResult {
  rows: Row[];
  lossMethod: LossMethod | undefined;
}

/** `link` is handed over right away (via onLink) so that the caller can delete it even if this throws. */
export async function runLossSuite(context: SuiteContext, onLink: (link: LossyLink) => void): Promise<LossSuiteResult> {
  const link = new LossyLink(context.workspace.dir);
  onLink(link);
  await link.create(LOSS_RUN.lossPercent);
  let pair: ServerPair | undefined;
  try {
    pair = await startPair(context, { host: LOSS_NETWORK.serverAddress, namespace: link.serverNs }, LOSS_NETWORK.tftpdHpaPort, link.clientNs);
    const rows: Row[] = [];
    for (const client of LOSS_RUN.clients) {
      const spec: RowSpec = { suite: 'loss', concurrency: LOSS_RUN.concurrency, client, blksize: LOSS_RUN.blksize, payloadBytes: context.workspace.lossPayload.bytes };
      rows.push(await runRow(context, pair, spec, rows.length, context.workspace.lossPayload, LOSS_RUN.transferTimeoutMs, 1, link));
    }
    return { rows, lossMethod: link.lossMethod };
  } finally {
    await stopPair(context, pair);
    link.destroySync();
  }
}

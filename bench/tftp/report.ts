// The results as Markdown: the TFTP section of docs/BENCHMARKS.md (replaced on every run, the
// rest of the file kept) and the same tables on stdout.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { BENCH_BUDGET_MS, CLEAN_RUN, LOSS_RUN, MiB, PAYLOAD_BYTES, RSS_SAMPLE_MS, TARGETS } from './config.js';
import type { BackgroundCpu } from './cpu-accounting.js';
import type { MachineInfo } from './machine.js';
import type { Measurement, RowSpec } from './measure.js';
import type { LossMethod } from './netns.js';

export interface Row {
  spec: RowSpec;
  kickstand: Measurement;
  tftpdHpa: Measurement;
}

export interface RunInfo {
  machine: MachineInfo;
  sourceFingerprint: string;
  lossMethod: LossMethod | undefined;
  durationSeconds: number;
  loadAtEnd: number;
  /** Highest 1-minute load average seen after any batch. */
  loadPeak: number;
  /** CPU other processes took while the bench ran. */
  background: BackgroundCpu;
  /** Nice value the bench, both servers and the clients ran at. */
  nice: number;
}

export type Verdict = 'pass' | 'FAIL' | 'skipped';

const SECTION_START = '<!-- bench:tftp:start -->';
const SECTION_END = '<!-- bench:tftp:end -->';

function allDone(m: Measurement): boolean {
  return m.completed === m.started;
}

/** kickstand / tftpd-hpa aggregate throughput; Infinity when tftpd-hpa completed nothing. */
function ratio(row: Row): number {
  return row.tftpdHpa.mibPerSecond > 0 ? row.kickstand.mibPerSecond / row.tftpdHpa.mibPerSecond : Number.POSITIVE_INFINITY;
}

function requiredRatio(spec: RowSpec): number {
  return spec.client.windowsize > 1 ? TARGETS.minRatioWindowed : TARGETS.minRatio;
}

export function verdict(row: Row): Verdict {
  if (row.kickstand.skipped || row.tftpdHpa.skipped) return 'skipped';
  if (!allDone(row.kickstand)) return 'FAIL';
  if (row.spec.suite === 'loss') return 'pass';
  return ratio(row) >= requiredRatio(row.spec) ? 'pass' : 'FAIL';
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const rate = (m: Measurement) => (m.skipped ? '–' : m.mibPerSecond.toFixed(1));
const done = (m: Measurement) => (m.skipped ? '–' : `${m.completed}/${m.started}`);
const memory = (m: Measurement) => (m.skipped ? '–' : mib(m.peakRssBytes));
const cpu = (m: Measurement) => (m.skipped ? '–' : m.cpuSeconds.toFixed(1));
const windowLabel = (spec: RowSpec) => (spec.client.windowsize > 1 ? `${spec.client.windowsize} (hpa: 1)` : '1');

function table(header: string[], rows: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

function loopbackTable(rows: Row[]): string {
  return table(
    ['clients', 'client', 'blksize', 'windowsize', 'MiB/s ks', 'MiB/s hpa', 'ratio', 'target', 'done ks', 'done hpa', 'peak RSS MiB ks', 'peak RSS MiB hpa', 'CPU s ks', 'CPU s hpa', 'result'],
    rows.map((row) => {
      const { spec, kickstand: ks, tftpdHpa: hpa } = row;
      const skipped = ks.skipped || hpa.skipped;
      return [
        String(spec.concurrency),
        spec.client.program,
        String(spec.blksize),
        windowLabel(spec),
        rate(ks),
        rate(hpa),
        skipped ? '–' : `${ratio(row).toFixed(2)}x`,
        `≥ ${requiredRatio(spec)}x`,
        done(ks),
        done(hpa),
        memory(ks),
        memory(hpa),
        cpu(ks),
        cpu(hpa),
        verdict(row) === 'pass' ? 'pass' : `**${verdict(row)}**`,
      ];
    }),
  );
}

function lossShare(m: Measurement): string {
  if (m.skipped || !m.loss || m.loss.seen === 0) return '–';
  return `${m.loss.dropped} of ${m.loss.seen} (${((m.loss.dropped / m.loss.seen) * 100).toFixed(2)}%)`;
}

function lossTable(rows: Row[]): string {
  return table(
    ['clients', 'client', 'blksize', 'windowsize', 'done ks', 'done hpa', 'MiB/s ks', 'MiB/s hpa', 'UDP dropped, ks batch', 'UDP dropped, hpa batch', 'peak RSS MiB ks', 'peak RSS MiB hpa', 'target', 'result'],
    rows.map((row) => {
      const { spec, kickstand: ks, tftpdHpa: hpa } = row;
      return [
        String(spec.concurrency),
        spec.client.program,
        String(spec.blksize),
        windowLabel(spec),
        done(ks),
        done(hpa),
        rate(ks),
        rate(hpa),
        lossShare(ks),
        lossShare(hpa),
        memory(ks),
        memory(hpa),
        'every transfer completes',
        verdict(row) === 'pass' ? 'pass' : `**${verdict(row)}**`,
      ];
    }),
  );
}

function failureNotes(rows: Row[]): string {
  const notes: string[] = [];
  for (const row of rows) {
    for (const m of [row.kickstand, row.tftpdHpa]) {
      const label = `${row.spec.suite}, ${row.spec.concurrency} × ${row.spec.client.program} blksize ${row.spec.blksize} windowsize ${row.spec.client.windowsize}, ${m.server}`;
      if (m.skipped) notes.push(`- ${label}: skipped (${m.skipped})`);
      for (const failure of m.failures.slice(0, 5)) notes.push(`- ${label}: ${failure}`);
      if (m.failures.length > 5) notes.push(`- ${label}: … and ${m.failures.length - 5} more`);
    }
  }
  return notes.length > 0 ? notes.join('\n') : 'None: every transfer of both servers completed with the right sha256.';
}

export function resultTables(rows: Row[]): string {
  const loopback = rows.filter((row) => row.spec.suite === 'loopback');
  const loss = rows.filter((row) => row.spec.suite === 'loss');
  return [`#### Loopback, ${mib(PAYLOAD_BYTES)} MiB file`, '', loopbackTable(loopback), '', `#### ${LOSS_RUN.lossPercent}% packet loss each way, ${mib(LOSS_RUN.payloadBytes)} MiB file`, '', lossTable(loss)].join('\n');
}

function summaryLine(rows: Row[]): string {
  const counted = rows.filter((row) => verdict(row) !== 'skipped');
  const passed = counted.filter((row) => verdict(row) === 'pass').length;
  const skipped = rows.length - counted.length;
  return `**${passed} of ${counted.length} rows meet the target**${skipped > 0 ? ` (${skipped} skipped for time)` : ''}.`;
}

export function renderSection(rows: Row[], run: RunInfo): string {
  const { machine } = run;
  const lossHow =
    run.lossMethod === 'nftables'
      ? `this kernel has no \`sch_netem\` (\`tc qdisc add … netem\` answers "Specified qdisc kind is unknown"), so the bench drops the same share with an nftables rule on each veth's ingress (\`numgen random mod 10000 < ${LOSS_RUN.lossPercent * 100} drop\` for UDP); on a kernel with netem it uses \`tc qdisc add dev <veth> root netem loss ${LOSS_RUN.lossPercent}%\` on both veth ends instead`
      : `\`tc qdisc add dev <veth> root netem loss ${LOSS_RUN.lossPercent}%\` on both veth ends`;
  return [
    SECTION_START,
    '## TFTP: kickstand vs tftpd-hpa',
    '',
    `Generated by \`npm run bench:tftp\` (bench/tftp/run.ts) on ${machine.date}; the next run replaces this section. See Method for repetitions.`,
    '',
    '### Targets (from the TFTP issue)',
    '',
    `- Aggregate throughput at least tftpd-hpa's in every loopback row (ratio ≥ ${TARGETS.minRatio}x).`,
    `- At least ${TARGETS.minRatioWindowed}x tftpd-hpa's with windowsize 16. tftpd-hpa 5.2 has no RFC 7440 windowsize: it leaves the option out of its OACK and the client falls back to windowsize 1, which is the comparison the target is about.`,
    `- Every transfer completes under ${LOSS_RUN.lossPercent}% packet loss.`,
    '- A row passes only when every kickstand transfer in it completed with the right sha256 and its target is met.',
    '',
    '### Method',
    '',
    `- One random ${mib(PAYLOAD_BYTES)} MiB file, served by both servers from the same directory on tmpfs. Each server runs as its own process on 127.0.0.1 at a high port: kickstand's \`startTftpServer\` (bench/tftp/kickstand-server.ts, compiled with tsc and run with plain node, pino at \`warn\`, default settings: worker threads, file cache), and \`in.tftpd --foreground --address 127.0.0.1:PORT --secure --blocksize 1468 DIR\`. Both are warmed up with one transfer before measuring.`,
    `- Each row starts ${CLEAN_RUN.concurrencies.join(' or ')} clients at once and waits for all of them: curl \`curl -s -S -o OUT --connect-timeout 5 --tftp-blksize N tftp://127.0.0.1:PORT/FILE\` (curl has no windowsize: windowsize 1; \`--connect-timeout 5\` makes curl ask for the same 1 s retransmission timeout both servers use with atftp instead of 6 s) and atftp \`atftp --option "blksize N" --option "windowsize W" -g -r FILE -l OUT 127.0.0.1 PORT\` (atftp 0.8.0 implements RFC 7440).`,
    '- Throughput is the bytes of the verified copies divided by the wall time of the batch, from the first client started to the last one exited. A transfer counts as completed when its output has the source\'s sha256.',
    `- Peak RSS: VmRSS from /proc/<pid>/status every ${RSS_SAMPLE_MS} ms, for tftpd-hpa summed over the listener and the child it forks per transfer (found by ppid in /proc/*/stat). Forked children share pages with the listener, so that sum overstates tftpd-hpa's real footprint; kickstand is one process (its worker threads included). CPU s: utime + stime the server used during the batch, from the same samples (tftpd-hpa ignores SIGCHLD, so its exited children never reach the listener's cutime; each child's last < ${RSS_SAMPLE_MS} ms are missed, which slightly favours tftpd-hpa). Columns: ks = kickstand, hpa = tftpd-hpa; ratio = kickstand / tftpd-hpa throughput.`,
    `- The bench, both servers and all clients run at nice ${run.nice}, so other work on a shared machine disturbs them less (equally for both servers). The two servers alternate which goes first from row to row. Transfers time out after ${CLEAN_RUN.transferTimeoutMs / 1000} s (loopback) and ${LOSS_RUN.transferTimeoutMs / 1000} s (loss), and the whole bench stops starting rows after ${BENCH_BUDGET_MS / 1000} s, so it finishes in under 10 minutes.`,
    `- Loss run: the bench makes two network namespaces joined by a veth pair (10.250.0.1 for the servers, 10.250.0.2 for the clients; they exist only inside those namespaces), runs both servers in one (\`ip netns exec\`) and the clients in the other, and drops ${LOSS_RUN.lossPercent}% of UDP packets in each direction, so DATA, OACK and ACK packets all get lost: ${lossHow}. ${LOSS_RUN.concurrency} clients per row, blksize ${LOSS_RUN.blksize}, a ${mib(LOSS_RUN.payloadBytes)} MiB file: in lock-step TFTP every lost packet costs a retransmission timeout (1 s), so the 32 MiB file would take minutes per transfer. Server defaults are kept (1 s retransmission timeout; kickstand doubles it per retransmission up to 8x and gives up after 12).`,
    `- Fewer repetitions than a lab benchmark, to fit the 10-minute budget on 2 cores: single-client rows run ${CLEAN_RUN.repetitions(1)} times and report the median run (completed counts all of them, peak RSS is the highest), 20-client and loss rows run once. Rows differing by less than ~10% should be read as equal.`,
    '',
    '### Machine',
    '',
    `- ${machine.cpus} CPUs (nproc), ${machine.cpuModel}, ${machine.memoryGiB} GiB RAM, Linux ${machine.kernel}`,
    `- Load average (1 min): ${machine.loadAtStart.toFixed(2)} at the start, ${run.loadPeak.toFixed(2)} at its highest after a batch, ${run.loadAtEnd.toFixed(2)} at the end (20-client batches alone raise it well above the 2 CPUs; the next line tells how much was other work).`,
    backgroundLine(run),
    `- ${Object.entries(machine.versions)
      .map(([name, version]) => `${name}: ${version}`)
      .join('; ')}`,
    `- kickstand ${machine.kickstandRevision}, src/tftp fingerprint \`${run.sourceFingerprint}\` (sha256 of the sources measured)`,
    `- Whole run: ${run.durationSeconds.toFixed(0)} s`,
    '',
    '### Results',
    '',
    ...contentionWarning(run),
    summaryLine(rows),
    '',
    resultTables(rows),
    '',
    '### Failed transfers',
    '',
    failureNotes(rows),
    SECTION_END,
  ].join('\n');
}

/** Percent of the machine's CPU time that other processes used during the run. */
function backgroundShare(run: RunInfo): number {
  const available = run.background.wallSeconds * run.machine.cpus;
  return available > 0 ? (run.background.otherSeconds / available) * 100 : 0;
}

/** Shown above the tables when the run shared the machine, so nobody reads noise as a result. */
function contentionWarning(run: RunInfo): string[] {
  const share = backgroundShare(run);
  if (share < 5) return [];
  return [
    `> **Measured on a busy machine:** other processes took ≈ ${share.toFixed(0)}% of the CPU during this run. Latency-bound rows (1 client, windowsize 1) suffer most and unevenly between the servers; re-run \`npm run bench:tftp\` on a quiet machine before drawing conclusions from them.`,
    '',
  ];
}

function backgroundLine(run: RunInfo): string {
  const { otherSeconds, stealSeconds, wallSeconds } = run.background;
  const available = wallSeconds * run.machine.cpus;
  const share = backgroundShare(run);
  const verdict = share < 5 ? 'the machine was essentially the bench\'s' : 'other work shared the machine, so rows are noisier than usual: re-run on a quiet machine to confirm';
  return `- Other processes used ≈ ${otherSeconds.toFixed(0)} of the ${available.toFixed(0)} CPU-seconds available during the run (${share.toFixed(0)}%; hypervisor steal ${stealSeconds.toFixed(0)} s): ${verdict}.`;
}

/** Replaces the TFTP section of the document (or appends it), keeping everything else. */
export async function writeSection(docPath: string, section: string): Promise<void> {
  const existing = existsSync(docPath) ? await readFile(docPath, 'utf8') : '# Benchmarks\n\nHow kickstand performs, measured by the scripts under bench/. Each section is generated by its benchmark.\n';
  const start = existing.indexOf(SECTION_START);
  const end = existing.indexOf(SECTION_END);
  const updated =
    start >= 0 && end > start
      ? `${existing.slice(0, start)}${section}${existing.slice(end + SECTION_END.length)}`
      : `${existing.trimEnd()}\n\n${section}\n`;
  await writeFile(docPath, updated);
}

export function stdoutReport(rows: Row[], run: RunInfo): string {
  return [...contentionWarning(run), summaryLine(rows), '', resultTables(rows), ''].join('\n');
}

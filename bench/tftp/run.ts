// bench:tftp — kickstand's TFTP server against tftpd-hpa, side by side in the same run: loopback
// throughput, completed transfers and memory with curl and atftp, then a run under packet loss.
// Results replace the TFTP section of docs/BENCHMARKS.md and are printed on stdout.
//
//   npm run bench:tftp                   the full benchmark (< 10 minutes, needs root for the loss run)
//   npm run bench:tftp -- --no-write     same, without touching docs/BENCHMARKS.md
//   npm run bench:tftp -- --profile [--profile-row atftp:1468:1]
//                                        CPU profile of kickstand under 20 clients, summarized
import { execFileSync } from 'node:child_process';
import { getPriority, loadavg, setPriority } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildKickstand, REPO_ROOT } from './build-kickstand.js';
import { killAllTracked } from './children.js';
import { backgroundCpu, cpuSnapshot } from './cpu-accounting.js';
import { BENCH_BUDGET_MS, BENCH_NICE } from './config.js';
import { describeMachine } from './machine.js';
import type { LossyLink } from './netns.js';
import { parseProfileRow, profileKickstand } from './profile.js';
import { renderSection, type Row, type RunInfo, stdoutReport, writeSection } from './report.js';
import { Budget, runLossSuite, runLoopbackSuite } from './suites.js';
import { createWorkspace, type Workspace } from './workspace.js';

/** Debian packages providing the programs the bench runs. */
const REQUIRED_PROGRAMS: Record<string, string> = {
  'in.tftpd': 'tftpd-hpa',
  curl: 'curl',
  atftp: 'atftp',
  ip: 'iproute2',
  tc: 'iproute2',
  nft: 'nftables',
};

function checkPrograms(): void {
  const missing = Object.entries(REQUIRED_PROGRAMS).filter(([program]) => {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', program], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length > 0) {
    const packages = [...new Set(missing.map(([, pkg]) => pkg))].join(' ');
    throw new Error(`missing ${missing.map(([program]) => program).join(', ')}: apt-get install -y ${packages}`);
  }
  if (process.getuid?.() !== 0) throw new Error('the loss run creates network namespaces: run as root');
}

// Everything the run created, torn down however it ends (exit, error, Ctrl-C).
let workspace: Workspace | undefined;
let lossLink: LossyLink | undefined;
function cleanUpSync(): void {
  killAllTracked();
  lossLink?.destroySync();
  workspace?.removeSync();
}
process.on('exit', cleanUpSync);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    process.stderr.write(`\n${signal}: cleaning up\n`);
    process.exit(130);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'no-write': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'profile-row': { type: 'string', default: 'atftp:1468:1' },
    },
  });
  const budget = new Budget(Date.now(), BENCH_BUDGET_MS);
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  checkPrograms();
  try {
    setPriority(BENCH_NICE); // before any child starts: they inherit it
  } catch (error) {
    progress(`could not renice the bench to ${BENCH_NICE}: ${(error as Error).message}`);
  }

  progress('compiling kickstand TFTP server, writing payloads…');
  const build = await buildKickstand();
  workspace = await createWorkspace();

  if (values.profile) {
    const row = parseProfileRow(values['profile-row'], 20);
    process.stdout.write(`${await profileKickstand(workspace, build.launcherPath, row, join(REPO_ROOT, 'bench', 'tftp', '.build', 'profiles'))}\n`);
    return;
  }

  const machine = await describeMachine(REPO_ROOT);
  const cpuAtStart = cpuSnapshot();
  let loadPeak = machine.loadAtStart;
  const noteLoad = () => (loadPeak = Math.max(loadPeak, loadavg()[0] ?? 0));
  const context = { workspace, launcherPath: build.launcherPath, budget, progress, noteLoad };
  const rows: Row[] = [...(await runLoopbackSuite(context))];
  const loss = await runLossSuite(context, (link) => (lossLink = link));
  rows.push(...loss.rows);

  const unreapedTftpdHpaCpu = rows.reduce((sum, row) => sum + row.tftpdHpa.cpuSeconds, 0);
  const background = backgroundCpu(cpuAtStart, cpuSnapshot(), budget.elapsedSeconds(), unreapedTftpdHpaCpu);
  const runInfo: RunInfo = {
    machine,
    sourceFingerprint: build.sourceFingerprint,
    lossMethod: loss.lossMethod,
    durationSeconds: budget.elapsedSeconds(),
    loadAtEnd: loadavg()[0] ?? 0,
    loadPeak,
    background,
    nice: getPriority(),
  };
  const section = renderSection(rows, runInfo);
  if (!values['no-write']) {
    const docPath = join(REPO_ROOT, 'docs', 'BENCHMARKS.md');
    await writeSection(docPath, section);
    progress(`wrote ${docPath}`);
  }
  process.stdout.write(stdoutReport(rows, runInfo));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:tftp failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

// What the numbers were measured on: machine, kernel, tool versions and the kickstand revision.
import { readFileSync } from 'node:fs';
import { availableParallelism, loadavg, release, totalmem } from 'node:os';
import { runCommand } from './children.js';

export interface MachineInfo {
  date: string;
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  kernel: string;
  /** 1-minute load average when the run started: the machine may be shared with other work. */
  loadAtStart: number;
  versions: Record<string, string>;
  kickstandRevision: string;
}

function cpuModel(): string {
  const match = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return match?.[1]?.trim() ?? 'unknown';
}

async function firstLine(command: string, args: string[]): Promise<string> {
  const result = await runCommand(command, args);
  return (result.stdout || result.stderr).split('\n')[0]?.trim() || 'unknown';
}

async function debianVersion(pkg: string): Promise<string> {
  const result = await runCommand('dpkg-query', ['-W', '-f', '${Version}', pkg]);
  return result.code === 0 ? result.stdout.trim() : 'not installed';
}

async function kickstandRevision(repoRoot: string): Promise<string> {
  const head = await runCommand('git', ['-C', repoRoot, 'rev-parse', '--short', 'HEAD']);
  const dirty = await runCommand('git', ['-C', repoRoot, 'status', '--porcelain', '--', 'src/tftp']);
  const commit = head.code === 0 ? head.stdout.trim() : 'unknown';
  return dirty.stdout.trim() ? `${commit} + uncommitted src/tftp changes` : commit;
}

export async function describeMachine(repoRoot: string): Promise<MachineInfo> {
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpus: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    kernel: release(),
    loadAtStart: loadavg()[0] ?? 0,
    versions: {
      'tftpd-hpa': `${await firstLine('in.tftpd', ['-V'])} (Debian ${await debianVersion('tftpd-hpa')})`,
      curl: `${await firstLine('curl', ['--version'])}`.replace(/ \(.*/, '') + ` (Debian ${await debianVersion('curl')})`,
      atftp: `${await firstLine('atftp', ['-V'])} (Debian ${await debianVersion('atftp')})`,
      node: process.version,
    },
    kickstandRevision: await kickstandRevision(repoRoot),
  };
}

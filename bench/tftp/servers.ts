// Starting and stopping the two servers under test, each as its own process (so its memory and
// CPU are its own), optionally inside a network namespace.
import type { ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { spawnTracked } from './children.js';
import { LossyLink } from './netns.js';
import { descendantsOf } from './proc.js';

export type ServerName = 'kickstand' | 'tftpd-hpa';
export const SERVER_NAMES: readonly ServerName[] = ['kickstand', 'tftpd-hpa'];

export interface RunningServer {
  name: ServerName;
  pid: number;
  host: string;
  port: number;
  /** The last lines the server wrote to stderr (kickstand logs warnings there). */
  stderrTail(): string;
  stop(): Promise<void>;
}

export interface Placement {
  host: string;
  /** Network namespace to run in; none means the benchmark's own (loopback). */
  namespace?: string;
}

const STDERR_TAIL_BYTES = 8 * 1024;

function command(placement: Placement, program: string, args: readonly string[]): [string, string[]] {
  return placement.namespace ? LossyLink.inNamespace(placement.namespace, program, args) : [program, [...args]];
}

function keepStderrTail(child: ChildProcess): () => string {
  let tail = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  });
  return () => tail;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`; children it forked (tftpd-hpa transfers) are killed too. */
async function terminate(child: ChildProcess, graceMs: number): Promise<void> {
  const pid = child.pid;
  if (pid === undefined) return;
  const forked = descendantsOf(pid);
  child.kill('SIGTERM');
  const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(killer);
  for (const orphan of forked) {
    try {
      process.kill(orphan, 'SIGKILL');
    } catch {
      // Already finished its transfer.
    }
  }
}

function firstStdoutLine(child: ChildProcess, timeoutMs: number, what: string, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => fail(`${what} did not start within ${timeoutMs} ms`), timeoutMs);
    const fail = (message: string) => {
      clearTimeout(timer);
      reject(new Error(`${message}\n${stderr()}`));
    };
    child.once('exit', (code, signal) => fail(`${what} exited (${code ?? signal}) before listening`));
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const newline = buffered.indexOf('\n');
      if (newline >= 0) {
        clearTimeout(timer);
        resolve(buffered.slice(0, newline));
      }
    });
  });
}

export interface KickstandLaunch {
  /** The compiled launcher (see build-kickstand.ts). */
  launcherPath: string;
  root: string;
  placement: Placement;
  /** Write a V8 CPU profile of the server (main thread and workers) into this directory on exit. */
  cpuProfileDir?: string;
}

export async function startKickstand(launch: KickstandLaunch): Promise<RunningServer> {
  const nodeFlags = launch.cpuProfileDir ? ['--cpu-prof', '--cpu-prof-dir', launch.cpuProfileDir] : [];
  const child = spawnTracked(...command(launch.placement, process.execPath, [...nodeFlags, launch.launcherPath, launch.root, launch.placement.host, '0']), {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const stderrTail = keepStderrTail(child);
  const line = await firstStdoutLine(child, 30_000, 'kickstand TFTP server', stderrTail);
  const { port } = JSON.parse(line) as { port: number };
  return {
    name: 'kickstand',
    pid: child.pid as number,
    host: launch.placement.host,
    port,
    stderrTail,
    async stop() {
      child.stdin?.end();
      // Generous: with --cpu-prof, node writes the profiles on the way out.
      await terminate(child, 15_000);
    },
  };
}

/** A UDP port free right now on `host` (tftpd-hpa cannot be told to pick one itself). */
export function freeUdpPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, host, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

export interface TftpdHpaLaunch {
  root: string;
  placement: Placement;
  port: number;
  /** Largest blksize it grants (its default has no cap below 65464; 1468 matches kickstand's LAN cap). */
  maxBlksize: number;
}

export async function startTftpdHpa(launch: TftpdHpaLaunch): Promise<RunningServer> {
  // --secure chroots into the root; it drops to user nobody, so the root must be world-readable.
  const args = ['--foreground', '--address', `${launch.placement.host}:${launch.port}`, '--secure', '--blocksize', String(launch.maxBlksize), launch.root];
  const child = spawnTracked(...command(launch.placement, 'in.tftpd', args), { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderrTail = keepStderrTail(child);
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
  return {
    name: 'tftpd-hpa',
    pid: child.pid as number,
    host: launch.placement.host,
    port: launch.port,
    stderrTail,
    stop: () => terminate(child, 5_000),
  };
}

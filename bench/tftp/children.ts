// Every process the benchmark starts goes through here, so that on exit, normal or not, exactly
// those processes (by PID, never by name) and the tftpd-hpa children they forked are killed.
import { type ChildProcess, execFile, type SpawnOptions, spawn } from 'node:child_process';
import { descendantsOf } from './proc.js';

const running = new Set<ChildProcess>();

/** spawn() with the child remembered until it exits. */
export function spawnTracked(command: string, args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(command, args, options);
  running.add(child);
  child.once('exit', () => running.delete(child));
  child.once('error', () => running.delete(child));
  return child;
}

/** SIGKILLs what is still running: each tracked process and whatever it forked (tftpd-hpa transfers). */
export function killAllTracked(): void {
  for (const child of running) {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) continue;
    for (const pid of [...descendantsOf(child.pid), child.pid]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  running.clear();
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a short command to completion (argument array, no shell); never rejects. */
export function runCommand(command: string, args: readonly string[], timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      running.delete(child);
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: error && !stderr ? error.message : String(stderr) });
    });
    running.add(child);
  });
}

/** runCommand, but a non-zero exit is an error. */
export async function mustRun(command: string, args: readonly string[], timeoutMs?: number): Promise<string> {
  const result = await runCommand(command, args, timeoutMs);
  if (result.code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.code}): ${result.stderr.trim()}`);
  return result.stdout;
}

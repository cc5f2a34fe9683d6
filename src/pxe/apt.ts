// Asking dpkg which packages are installed and apt to install the missing ones. Commands run
// with execFile and argument arrays: package names never pass through a shell.
import { execFile } from 'node:child_process';
import type { Logger } from '../log.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

const APT_TIMEOUT_MS = 15 * 60_000;

/** Runs a command to completion; a failure to start (ENOENT) is exit code 127 with the reason in stderr. */
export function runCommand(file: string, args: readonly string[], timeoutMs = 60_000): Promise<CommandResult> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' };
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) return resolve({ code: 0, stdout, stderr });
      const code = typeof error.code === 'number' ? error.code : error.code === 'ENOENT' ? 127 : 1;
      resolve({ code, stdout, stderr: stderr || error.message });
    });
  });
}

/** True when dpkg says the package is installed (`${Status}` ends with `installed`). */
export async function isPackageInstalled(pkg: string): Promise<boolean> {
  const result = await runCommand('dpkg-query', ['-W', '-f=${Status}', pkg]);
  return result.code === 0 && result.stdout.trim().split(/\s+/)[2] === 'installed';
}

export async function missingPackages(packages: readonly string[]): Promise<string[]> {
  const installed = await Promise.all(packages.map((pkg) => isPackageInstalled(pkg)));
  return packages.filter((_, index) => installed[index] !== true);
}

/** apt's ways of saying its package lists are missing or stale, which `apt-get update` cures. */
const STALE_LISTS = /Unable to locate package|has no installation candidate|Unable to fetch some archives|Failed to fetch|404\s+Not Found/;

function aptGetInstall(packages: readonly string[]): Promise<CommandResult> {
  // Waits for another apt (unattended-upgrades, a parallel test) instead of failing on its lock.
  const args = ['-o', 'DPkg::Lock::Timeout=120', 'install', '-y', '--no-install-recommends', ...packages];
  return runCommand('apt-get', args, APT_TIMEOUT_MS);
}

function lastLines(text: string, count = 5): string {
  return text.trim().split('\n').slice(-count).join('\n');
}

/**
 * Installs the packages, running `apt-get update` once first if apt's lists are missing or stale.
 * Resolves to null on success, else apt's last lines of error output.
 */
export async function installPackages(packages: readonly string[], log: Logger): Promise<string | null> {
  log.info({ packages }, 'installing Debian packages');
  let result = await aptGetInstall(packages);
  if (result.code !== 0 && STALE_LISTS.test(result.stderr + result.stdout)) {
    log.info('apt package lists missing or stale: running apt-get update');
    const update = await runCommand('apt-get', ['-o', 'DPkg::Lock::Timeout=120', 'update'], APT_TIMEOUT_MS);
    if (update.code !== 0) return `apt-get update failed: ${lastLines(update.stderr)}`;
    result = await aptGetInstall(packages);
  }
  return result.code === 0 ? null : `apt-get install failed (exit ${result.code}): ${lastLines(result.stderr || result.stdout)}`;
}

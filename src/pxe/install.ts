// Fills pxe/ (the TFTP root) with the boot loaders of BOOT_LOADERS, copied from Debian's
// packages, installing the packages with apt when they are missing (`kickstand pxe-install`).
import { mkdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, type Logger } from '../log.js';
import { installPackages, missingPackages } from './apt.js';
import { syncFile } from './copy.js';
import { checkFormat } from './format.js';
import { BOOT_LOADERS, PXE_CONFIG_DIRS, aptInstallCommand, loaderPackages, type BootLoaderFile } from './loaders.js';

export interface InstallOptions {
  pxeDir: string;
  log?: Logger;
  /** Install missing packages with apt-get (needs root). Default true. */
  aptInstall?: boolean;
  /** The table to install; BOOT_LOADERS unless a test or a caller narrows it. */
  files?: readonly BootLoaderFile[];
}

export type FileStatus = 'copied' | 'unchanged' | 'missing-optional' | 'missing-required' | 'error';

export interface FileResult {
  name: string;
  status: FileStatus;
  required: boolean;
  package: string | null;
  source: string | null;
  /** Why the file is missing or failed; absent when copied or unchanged. */
  reason?: string;
}

export interface InstallReport {
  pxeDir: string;
  /** Packages this run installed with apt. */
  packagesInstalled: string[];
  /** Packages still not installed after this run. */
  packagesMissing: string[];
  /** The command to run by hand when packages are missing, else null. */
  aptCommand: string | null;
  /** Why packages could not be installed, else null. */
  aptError: string | null;
  files: FileResult[];
  copied: string[];
  unchanged: string[];
  missingOptional: string[];
  missingRequired: string[];
  errors: string[];
  /** No required file missing and no file in error. */
  ok: boolean;
}

interface PackageState {
  installed: string[];
  missing: string[];
  error: string | null;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Installs the missing packages when allowed and possible; says which are still missing. */
async function ensurePackages(packages: readonly string[], aptInstall: boolean, log: Logger): Promise<PackageState> {
  const before = await missingPackages(packages);
  if (before.length === 0) return { installed: [], missing: [], error: null };
  if (!aptInstall) return { installed: [], missing: before, error: `not installed (apt installs disabled): ${before.join(' ')}` };
  if (!isRoot()) {
    return { installed: [], missing: before, error: `not installed, and only root can install them: ${before.join(' ')}` };
  }
  const error = await installPackages(before, log);
  const after = await missingPackages(before);
  return { installed: before.filter((pkg) => !after.includes(pkg)), missing: after, error: after.length > 0 ? error ?? 'apt-get left them uninstalled' : null };
}

function missing(file: BootLoaderFile, reason: string): FileResult {
  const status = file.required ? 'missing-required' : 'missing-optional';
  return { name: file.name, status, required: file.required, package: file.package, source: file.source, reason };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Copies one file from its package into pxeDir, or says why it cannot. */
async function installFile(file: BootLoaderFile, pxeDir: string, missingPkgs: readonly string[]): Promise<FileResult> {
  if (file.package === null || file.source === null) return missing(file, 'no Debian package provides it on this architecture');
  if (missingPkgs.includes(file.package)) return missing(file, `package ${file.package} is not installed`);
  const base = { name: file.name, required: file.required, package: file.package, source: file.source };
  const bytes = await readFile(file.source).catch(() => null);
  if (bytes === null) return missing(file, `${file.source} not found although ${file.package} is installed`);
  const problem = checkFormat(bytes, file.format);
  if (problem !== null) return { ...base, status: 'error', reason: `${file.source} is not a ${file.format} file: ${problem}` };
  try {
    return { ...base, status: await syncFile(file.source, join(pxeDir, file.name)) };
  } catch (error) {
    return { ...base, status: 'error', reason: `cannot copy into ${pxeDir}: ${errorMessage(error)}` };
  }
}

function namesWith(files: readonly FileResult[], status: FileStatus): string[] {
  return files.filter((file) => file.status === status).map((file) => file.name);
}

function buildReport(pxeDir: string, packages: PackageState, files: FileResult[]): InstallReport {
  const missingRequired = namesWith(files, 'missing-required');
  const errors = namesWith(files, 'error');
  return {
    pxeDir,
    packagesInstalled: packages.installed,
    packagesMissing: packages.missing,
    aptCommand: packages.missing.length > 0 ? aptInstallCommand(packages.missing) : null,
    aptError: packages.error,
    files,
    copied: namesWith(files, 'copied'),
    unchanged: namesWith(files, 'unchanged'),
    missingOptional: namesWith(files, 'missing-optional'),
    missingRequired,
    errors,
    ok: missingRequired.length === 0 && errors.length === 0,
  };
}

/**
 * Makes pxeDir hold a regular-file copy of every boot loader in the table whose package is
 * (or can be) installed, plus the pxelinux.cfg/ and grub/ folders. Never throws for a missing
 * package or file: the report says what is missing and which apt-get command installs it.
 */
export async function installBootLoaders(options: InstallOptions): Promise<InstallReport> {
  const log = options.log ?? silentLogger;
  const table = options.files ?? BOOT_LOADERS;
  const pxeDir = resolve(options.pxeDir);
  const packages = await ensurePackages(loaderPackages(table), options.aptInstall ?? true, log);
  if (packages.error !== null) log.warn({ packages: packages.missing, error: packages.error }, 'Debian packages missing');
  await mkdir(pxeDir, { recursive: true });
  for (const dir of PXE_CONFIG_DIRS) await mkdir(join(pxeDir, dir), { recursive: true });
  const files: FileResult[] = [];
  for (const file of table) {
    const result = await installFile(file, pxeDir, packages.missing);
    log.debug({ file: result.name, status: result.status, reason: result.reason }, 'boot loader');
    files.push(result);
  }
  return buildReport(pxeDir, packages, files);
}

/** One line per file, for people: status, name, and where it came from or why it is missing. */
export function formatInstallReport(report: InstallReport): string[] {
  const width = Math.max(...report.files.map((file) => file.name.length));
  return report.files.map((file) => {
    const detail = file.reason ?? `${file.source} (${file.package})`;
    return `${file.status.padEnd(16)} ${file.name.padEnd(width)}  ${detail}`;
  });
}

/** What to tell a person when the report is not ok; empty when it is. */
export function installFailureLines(report: InstallReport): string[] {
  if (report.ok) return [];
  const lines: string[] = [];
  if (report.missingRequired.length > 0) lines.push(`required boot loaders missing: ${report.missingRequired.join(', ')}`);
  if (report.errors.length > 0) lines.push(`boot loaders in error: ${report.errors.join(', ')}`);
  if (report.aptError !== null) lines.push(`Debian packages ${report.aptError}`);
  if (report.aptCommand !== null) lines.push(`run as root: ${report.aptCommand}`);
  return lines;
}

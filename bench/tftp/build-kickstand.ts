// Compiles the launcher and the current src/tftp into bench/tftp/.build, so the benchmark runs
// kickstand's server as production does (plain node on compiled JS: no tsx loader inflating its
// memory, and worker threads load .js files) while measuring the sources as they are right now.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from './children.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BUILD_DIR = join(REPO_ROOT, 'bench', 'tftp', '.build');
const TFTP_SOURCES = join(REPO_ROOT, 'src', 'tftp');

export interface KickstandBuild {
  launcherPath: string;
  /** sha256 (first 12 hex digits) of the src/tftp sources measured: the tree is often uncommitted. */
  sourceFingerprint: string;
}

export async function buildKickstand(): Promise<KickstandBuild> {
  const sources = (await readdir(TFTP_SOURCES)).filter((name) => name.endsWith('.ts')).sort();
  const hash = createHash('sha256');
  for (const name of sources) hash.update(name).update(await readFile(join(TFTP_SOURCES, name)));

  await rm(BUILD_DIR, { recursive: true, force: true });
  // Every src/tftp file is listed, not just what the launcher imports: worker entry points are
  // loaded by URL, which the compiler does not follow.
  const result = await runCommand(join(REPO_ROOT, 'node_modules', '.bin', 'tsc'), [
    '--ignoreConfig',
    '--outDir', BUILD_DIR,
    '--rootDir', REPO_ROOT,
    '--module', 'nodenext',
    '--moduleResolution', 'nodenext',
    '--target', 'es2022',
    '--strict',
    '--skipLibCheck',
    '--types', 'node',
    join(REPO_ROOT, 'bench', 'tftp', 'kickstand-server.ts'),
    ...sources.map((name) => join(TFTP_SOURCES, name)),
  ], 120_000);
  const launcherPath = join(BUILD_DIR, 'bench', 'tftp', 'kickstand-server.js');
  if (!existsSync(launcherPath)) throw new Error(`compiling kickstand's TFTP server failed:\n${result.stdout}${result.stderr}`);
  // Type errors still emit JavaScript; a server mid-edit is still worth measuring, so only warn.
  if (result.code !== 0) process.stderr.write(`warning: tsc reported errors in src/tftp (measuring the emitted JS anyway):\n${result.stdout}\n`);
  return { launcherPath, sourceFingerprint: hash.digest('hex').slice(0, 12) };
}

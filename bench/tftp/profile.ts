// `--profile`: runs one 20-client loopback batch against kickstand alone with node --cpu-prof,
// then prints the top self-time functions of the main thread and of each transfer worker.
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { runBatch, waitUntilServing } from './clients.js';
import { type ClientProgram, type ClientSpec, PROBE_NAME } from './config.js';
import { formatSummary, summarizeProfileFile } from './cpu-profile.js';
import { startKickstand } from './servers.js';
import type { Workspace } from './workspace.js';

export interface ProfileRow {
  client: ClientSpec;
  blksize: number;
  concurrency: number;
}

/** Parses "atftp:1468:16" (program:blksize:windowsize). */
export function parseProfileRow(text: string, concurrency: number): ProfileRow {
  const [program, blksize, windowsize] = text.split(':');
  if ((program !== 'curl' && program !== 'atftp') || !blksize || !windowsize) {
    throw new Error(`--profile-row wants program:blksize:windowsize, e.g. atftp:1468:1, not "${text}"`);
  }
  return { client: { program: program as ClientProgram, windowsize: Number(windowsize) }, blksize: Number(blksize), concurrency };
}

export async function profileKickstand(workspace: Workspace, launcherPath: string, row: ProfileRow, keepDir: string): Promise<string> {
  const profileDir = join(workspace.dir, 'profiles');
  await mkdir(profileDir);
  const server = await startKickstand({ launcherPath, root: workspace.root, placement: { host: '127.0.0.1' }, cpuProfileDir: profileDir });
  const report: string[] = [];
  try {
    await waitUntilServing({ host: server.host, port: server.port }, PROBE_NAME);
    const batch = {
      spec: row.client,
      blksize: row.blksize,
      concurrency: row.concurrency,
      target: { host: server.host, port: server.port },
      remoteName: workspace.payload.name,
      expectedSha256: workspace.payload.sha256,
      transferTimeoutMs: 240_000,
    };
    await runBatch({ ...batch, concurrency: 1, outDir: join(workspace.dir, 'warm-up') });
    const result = await runBatch({ ...batch, outDir: join(workspace.dir, 'profiled') });
    const mibPerSecond = (result.completed * workspace.payload.bytes) / 2 ** 20 / (result.wallMs / 1000);
    report.push(
      `Profiled: ${row.concurrency} × ${row.client.program} blksize ${row.blksize} windowsize ${row.client.windowsize} against kickstand: ` +
        `${result.completed}/${result.started} completed, ${mibPerSecond.toFixed(1)} MiB/s (with profiler overhead), ${(result.wallMs / 1000).toFixed(1)} s`,
    );
  } finally {
    await server.stop(); // the profiles are written as node exits
  }
  await mkdir(keepDir, { recursive: true });
  const files = (await readdir(profileDir)).filter((name) => name.endsWith('.cpuprofile')).sort();
  if (files.length === 0) report.push('No .cpuprofile was written (did the server exit cleanly?).');
  for (const file of files) {
    await copyFile(join(profileDir, file), join(keepDir, file));
    report.push('', formatSummary(join(keepDir, file), await summarizeProfileFile(join(profileDir, file), 25)));
  }
  return report.join('\n');
}

// The scratch space of one run: a TFTP root holding the random payloads both servers serve, on
// tmpfs when there is one so writing 20 downloaded copies does not measure the disk.
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256OfFile } from './clients.js';
import { LOSS_RUN, PAYLOAD_BYTES, PAYLOAD_NAME, PROBE_NAME } from './config.js';

export interface Payload {
  name: string;
  bytes: number;
  sha256: string;
}

export interface Workspace {
  dir: string;
  /** The TFTP root of both servers. */
  root: string;
  payload: Payload;
  /** The smaller file of the loss run. */
  lossPayload: Payload;
  removeSync(): void;
}

async function writeRandomFile(root: string, name: string, bytes: number): Promise<Payload> {
  const path = join(root, name);
  await writeFile(path, randomBytes(bytes));
  await chmod(path, 0o644);
  return { name, bytes, sha256: await sha256OfFile(path) };
}

export async function createWorkspace(): Promise<Workspace> {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = await mkdtemp(join(base, 'kickstand-bench-tftp-'));
  const root = join(dir, 'root');
  await mkdir(root);
  // tftpd-hpa drops to user nobody after chrooting into the root: it must be able to get there.
  await chmod(dir, 0o755);
  await chmod(root, 0o755);
  await writeFile(join(root, PROBE_NAME), 'ready\n', { mode: 0o644 });
  return {
    dir,
    root,
    payload: await writeRandomFile(root, PAYLOAD_NAME, PAYLOAD_BYTES),
    lossPayload: await writeRandomFile(root, `loss-${PAYLOAD_NAME}`, LOSS_RUN.payloadBytes),
    removeSync: () => rmSync(dir, { recursive: true, force: true }),
  };
}

// Putting a file into pxe/ so that a TFTP transfer running at the same time sees either the
// old bytes or the new ones, never half of each, and never a symlink (the TFTP server refuses
// links that lead out of its root).
import { randomBytes } from 'node:crypto';
import { copyFile, chmod, lstat, open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type SyncOutcome = 'copied' | 'unchanged';

/** True when `dest` is a regular file (not a symlink) holding exactly the bytes of `source`. */
export async function sameRegularFile(source: string, dest: string): Promise<boolean> {
  const destStat = await lstat(dest).catch(() => null);
  if (destStat === null || !destStat.isFile()) return false;
  const [sourceBytes, destBytes] = await Promise.all([readFile(source), readFile(dest)]);
  return sourceBytes.equals(destBytes);
}

/** Copies `source` (following its symlinks) to a temporary name beside `dest`, then renames it over `dest`. */
export async function copyAtomically(source: string, dest: string): Promise<void> {
  const temp = join(dirname(dest), `.${basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await copyFile(source, temp);
    await chmod(temp, 0o644);
    const handle = await open(temp, 'r+');
    try {
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(temp, dest);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** Makes `dest` a regular file with the bytes of `source`, copying only when they differ. */
export async function syncFile(source: string, dest: string): Promise<SyncOutcome> {
  if (await sameRegularFile(source, dest)) return 'unchanged';
  await copyAtomically(source, dest);
  return 'copied';
}

// What `doctor` says about pxe/: for each boot loader of the table, whether a client asking
// for it would get a runnable file. Reads pxe/ only; never touches Debian's packages.
import { lstat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { checkFormat } from './format.js';
import { BOOT_LOADERS, type BootLoaderFile } from './loaders.js';

export type LoaderState = 'ok' | 'missing' | 'not-a-regular-file' | 'bad-format';

export interface LoaderCheck {
  name: string;
  required: boolean;
  state: LoaderState;
  /** Why the state is not ok, for people. */
  detail?: string;
}

async function checkOne(file: BootLoaderFile, pxeDir: string): Promise<LoaderCheck> {
  const path = join(pxeDir, file.name);
  const base = { name: file.name, required: file.required };
  const stat = await lstat(path).catch(() => null);
  if (stat === null) return { ...base, state: 'missing', detail: `${path} does not exist` };
  if (!stat.isFile()) return { ...base, state: 'not-a-regular-file', detail: `${path} is a symlink or not a file: the TFTP server may refuse it` };
  const problem = checkFormat(await readFile(path), file.format);
  if (problem !== null) return { ...base, state: 'bad-format', detail: `${path}: ${problem}` };
  return { ...base, state: 'ok' };
}

/** One check per boot loader of the table, in table order. */
export function checkBootLoaders(pxeDir: string, files: readonly BootLoaderFile[] = BOOT_LOADERS): Promise<LoaderCheck[]> {
  return Promise.all(files.map((file) => checkOne(file, pxeDir)));
}

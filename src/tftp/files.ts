// Turning a requested TFTP filename into an open file inside the root, and nothing else.
// Requests come from anyone on the network, so every step refuses rather than guesses.
import { close, constants, promises as fsp, fstat, lstat, open, readlink, realpath, type Stats } from 'node:fs';
import { sep } from 'node:path';
import { promisify } from 'node:util';
import { ErrorCode } from './packet.js';

const openFile = promisify(open);
const fstatFd = promisify(fstat);
const lstatPath = promisify(lstat);
const realpathOf = promisify(realpath);
const readlinkOf = promisify(readlink);

export interface FileRefusal {
  ok: false;
  code: number;
  message: string;
}

/** Longest filename accepted; a legitimate boot file name is far shorter. */
const MAX_FILENAME_LENGTH = 1024;

/**
 * The path relative to the root that a client's filename names, with `/` separators and no
 * `.` or empty components. A leading `/` is dropped (PXE firmware sends both `pxelinux.0` and
 * `/pxelinux.0`, both meaning the root), and backslashes from Windows-ish clients are separators.
 * `..` anywhere, a NUL, or a drive letter are refused as access violations.
 */
export function normalizeRequestPath(filename: string): { ok: true; relPath: string } | FileRefusal {
  if (filename.length > MAX_FILENAME_LENGTH) {
    return { ok: false, code: ErrorCode.AccessViolation, message: 'Filename too long' };
  }
  if (filename.includes('\0')) return { ok: false, code: ErrorCode.AccessViolation, message: 'NUL in filename' };
  const slashed = filename.replaceAll('\\', '/');
  if (/^[A-Za-z]:/.test(slashed)) {
    return { ok: false, code: ErrorCode.AccessViolation, message: 'Drive letters are not allowed' };
  }
  const components: string[] = [];
  for (const component of slashed.split('/')) {
    if (component === '' || component === '.') continue;
    if (component === '..') return { ok: false, code: ErrorCode.AccessViolation, message: "'..' is not allowed" };
    components.push(component);
  }
  if (components.length === 0) return { ok: false, code: ErrorCode.FileNotFound, message: 'No filename' };
  return { ok: true, relPath: components.join('/') };
}

export function isInside(rootReal: string, candidate: string): boolean {
  return candidate === rootReal || candidate.startsWith(rootReal.endsWith(sep) ? rootReal : rootReal + sep);
}

function refusalFor(error: unknown): FileRefusal {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return { ok: false, code: ErrorCode.FileNotFound, message: 'File not found' };
  if (code === 'EACCES' || code === 'EPERM') return { ok: false, code: ErrorCode.AccessViolation, message: 'Permission denied' };
  if (code === 'ELOOP') return { ok: false, code: ErrorCode.AccessViolation, message: 'Too many symbolic links' };
  return { ok: false, code: ErrorCode.NotDefined, message: 'Cannot read file' };
}

/**
 * Resolves `relPath` under `rootReal` (itself a realpath) one component at a time: every symbolic
 * link met on the way is resolved and must land inside the root, otherwise the request is refused,
 * even when a later component would lead back in. Returns the real path of the last component.
 */
export async function resolveInRoot(rootReal: string, relPath: string): Promise<{ ok: true; realPath: string } | FileRefusal> {
  let current = rootReal;
  try {
    for (const component of relPath.split('/')) {
      const next = current.endsWith(sep) ? current + component : current + sep + component;
      const stats = await lstatPath(next);
      if (stats.isSymbolicLink()) {
        const target = await realpathOf(next);
        if (!isInside(rootReal, target)) {
          return { ok: false, code: ErrorCode.AccessViolation, message: 'Symbolic link leads outside the TFTP root' };
        }
        current = target;
      } else {
        current = next;
      }
    }
  } catch (error) {
    return refusalFor(error);
  }
  return { ok: true, realPath: current };
}

export interface OpenedFile {
  ok: true;
  fd: number;
  realPath: string;
  stats: Stats;
}

/**
 * Opens a regular file inside the root for reading. After opening, the kernel's own idea of the
 * descriptor's path (/proc/self/fd) is checked against the root too, which closes the window
 * between the checks above and the open (a directory swapped for a symlink in between).
 */
export async function openInRoot(rootReal: string, relPath: string): Promise<OpenedFile | FileRefusal> {
  const resolved = await resolveInRoot(rootReal, relPath);
  if (!resolved.ok) return resolved;
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO someone left in the root must not hang the server.
    fd = await openFile(resolved.realPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    return refusalFor(error);
  }
  try {
    const stats = await fstatFd(fd);
    if (!stats.isFile()) {
      await closeQuietly(fd);
      return { ok: false, code: ErrorCode.AccessViolation, message: 'Not a regular file' };
    }
    const kernelPath = await readlinkOf(`/proc/self/fd/${fd}`).catch(() => undefined);
    if (kernelPath !== undefined && !isInside(rootReal, kernelPath)) {
      await closeQuietly(fd);
      return { ok: false, code: ErrorCode.AccessViolation, message: 'File is outside the TFTP root' };
    }
    return { ok: true, fd, realPath: resolved.realPath, stats };
  } catch (error) {
    await closeQuietly(fd);
    return refusalFor(error);
  }
}

/** Closes a plain descriptor, ignoring errors: used on paths that already report another failure. */
export function closeQuietly(fd: number): Promise<void> {
  return new Promise<void>((resolve) => close(fd, () => resolve()));
}

/** The realpath of the TFTP root, checked to be a directory; throws with a message that says what to fix. */
export async function resolveRoot(root: string): Promise<string> {
  let rootReal: string;
  try {
    rootReal = await fsp.realpath(root);
  } catch (error) {
    throw new Error(`TFTP root ${root} cannot be used: ${(error as Error).message}. Create it or point the tftp root at the pxe/ directory.`);
  }
  const stats = await fsp.stat(rootReal);
  if (!stats.isDirectory()) throw new Error(`TFTP root ${root} is not a directory. Point it at the pxe/ directory.`);
  return rootReal;
}

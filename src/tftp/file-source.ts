// What bytes a read request gets: a file generated in memory for this host (consulted first),
// otherwise a file under the root, from the cache when it is small enough to keep.
import { type ContentSpec, toNetascii } from './content.js';
import { type FileCache, identityOf } from './file-cache.js';
import { closeQuietly, type FileRefusal, openInRoot } from './files.js';
import { ErrorCode } from './packet.js';

/**
 * A file generated for the machine asking; `localAddress` is the server address it sent its
 * request to ('' when unknown): an address that machine can reach kickstand at.
 */
export type GeneratedFile = (relPath: string, peer: { address: string; port: number }, localAddress: string) => Buffer | string | undefined;

export interface FileSourceSettings {
  /** realpath of the TFTP root */
  rootReal: string;
  cache: FileCache;
  /** Files up to this size are read whole and cached; larger ones are streamed from disk. */
  maxCachedFileBytes: number;
  generatedFile: GeneratedFile | undefined;
}

export type FileSource = { ok: true; content: ContentSpec; origin: 'generated' | 'disk' } | FileRefusal;

/**
 * Opens what `relPath` (already normalized, see normalizeRequestPath) names for `peer`.
 * With `netascii`, the bytes are converted to netascii, which needs the whole file in memory, so
 * files above the cache limit are refused in that mode (PXE firmware always asks octet).
 */
export async function openFileSource(
  relPath: string,
  netascii: boolean,
  peer: { address: string; port: number },
  localAddress: string,
  settings: FileSourceSettings,
): Promise<FileSource> {
  const generated = settings.generatedFile?.(relPath, peer, localAddress);
  if (generated !== undefined) {
    const bytes = typeof generated === 'string' ? Buffer.from(generated, 'utf8') : generated;
    return { ok: true, content: { kind: 'bytes', bytes: netascii ? toNetascii(bytes) : bytes }, origin: 'generated' };
  }
  const opened = await openInRoot(settings.rootReal, relPath);
  if (!opened.ok) return opened;
  const { fd, stats, realPath } = opened;
  if (stats.size > settings.maxCachedFileBytes) {
    if (netascii) {
      await closeQuietly(fd);
      return { ok: false, code: ErrorCode.NotDefined, message: 'File too large for netascii mode, use octet' };
    }
    return { ok: true, content: { kind: 'fd', fd, size: stats.size }, origin: 'disk' };
  }
  try {
    const bytes = await settings.cache.getOrLoad(identityOf(realPath, stats), fd);
    return { ok: true, content: { kind: 'bytes', bytes: netascii ? toNetascii(bytes) : bytes }, origin: 'disk' };
  } finally {
    await closeQuietly(fd);
  }
}

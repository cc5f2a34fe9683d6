// In-memory copies of hot boot files (undionly.kpxe, vmlinuz, initrd) so twenty machines booting
// at once read the disk once. Bounded by total bytes, least recently used evicted first.
import { read, type Stats } from 'node:fs';
import { promisify } from 'node:util';

const readFd = promisify(read);

export const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024;

/** What makes a cached copy valid: a changed file gets a new inode, size or mtime. */
export interface FileIdentity {
  realPath: string;
  ino: number;
  size: number;
  mtimeMs: number;
}

export function identityOf(realPath: string, stats: Stats): FileIdentity {
  return { realPath, ino: stats.ino, size: stats.size, mtimeMs: stats.mtimeMs };
}

function keyOf(identity: FileIdentity): string {
  return `${identity.realPath}\0${identity.ino}\0${identity.size}\0${identity.mtimeMs}`;
}

async function readWholeFile(fd: number, size: number): Promise<Buffer> {
  // Shared memory, so handing the file to transfer worker threads never copies it.
  const bytes = Buffer.from(new SharedArrayBuffer(size));
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await readFd(fd, bytes, filled, size - filled, filled);
    if (bytesRead === 0) throw new Error(`file shrank while being read (expected ${size} bytes, got ${filled})`);
    filled += bytesRead;
  }
  return bytes;
}

export class FileCache {
  /** realPath -> entry; Map iteration order is the LRU order (oldest first). */
  private readonly entries = new Map<string, { key: string; bytes: Buffer }>();
  /** Loads under way, so concurrent first requests for one file share a single read. */
  private readonly loading = new Map<string, Promise<Buffer>>();
  private totalBytes = 0;

  constructor(readonly maxBytes: number = DEFAULT_CACHE_BYTES) {}

  /** Bytes currently held (loads under way not included). */
  get size(): number {
    return this.totalBytes;
  }

  /**
   * The file's bytes, from memory when the cached copy has the same identity, otherwise read from
   * `fd` (an open descriptor of that file, which the caller keeps ownership of and closes after).
   */
  async getOrLoad(identity: FileIdentity, fd: number): Promise<Buffer> {
    const key = keyOf(identity);
    const entry = this.entries.get(identity.realPath);
    if (entry && entry.key === key) {
      this.entries.delete(identity.realPath); // re-insert: now the most recently used
      this.entries.set(identity.realPath, entry);
      return entry.bytes;
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    const load = readWholeFile(fd, identity.size).then(
      (bytes) => {
        this.loading.delete(key);
        this.store(identity.realPath, key, bytes);
        return bytes;
      },
      (error: unknown) => {
        this.loading.delete(key);
        throw error;
      },
    );
    this.loading.set(key, load);
    return load;
  }

  private store(realPath: string, key: string, bytes: Buffer): void {
    const previous = this.entries.get(realPath);
    if (previous) {
      this.entries.delete(realPath);
      this.totalBytes -= previous.bytes.length;
    }
    if (bytes.length > this.maxBytes) return;
    this.entries.set(realPath, { key, bytes });
    this.totalBytes += bytes.length;
    for (const [oldPath, old] of this.entries) {
      if (this.totalBytes <= this.maxBytes) break;
      this.entries.delete(oldPath);
      this.totalBytes -= old.bytes.length;
    }
  }

  clear(): void {
    this.entries.clear();
    this.totalBytes = 0;
  }
}

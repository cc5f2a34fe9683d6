// The bytes a transfer sends: a buffer in memory (cached file, generated file) or, for files too
// large to cache, a file read ahead in large chunks. Reads are synchronous so the transfer state
// machine stays a plain function of its events.
import { closeSync, readSync } from 'node:fs';

export interface FileContent {
  readonly size: number;
  /**
   * The bytes from `offset` on, at least `length` of them (length already clamped by the caller
   * to the file size), and as many more as are at hand: the data pump keeps the buffer and asks
   * again only past its end. The buffer is never written again.
   */
  bytesFrom(offset: number, length: number): Buffer;
  /** Frees what the content holds (a file descriptor); idempotent. */
  release(): void;
}

export class BufferContent implements FileContent {
  constructor(private readonly bytes: Buffer) {}

  get size(): number {
    return this.bytes.length;
  }

  bytesFrom(offset: number): Buffer {
    return this.bytes.subarray(offset);
  }

  release(): void {}
}

/** Read-ahead size for files served from disk: one synchronous read per this many bytes sent. */
export const STREAM_CHUNK_BYTES = 1024 * 1024;

/**
 * A file too large for the cache, read from an open descriptor in chunks. Each chunk is a fresh
 * buffer (never refilled) because the data pump may still hold the previous one.
 */
export class StreamedFileContent implements FileContent {
  private chunk: Buffer = Buffer.alloc(0);
  private chunkStart = 0;
  private fd: number | undefined;

  constructor(
    fd: number,
    readonly size: number,
    private readonly chunkBytes = STREAM_CHUNK_BYTES,
  ) {
    this.fd = fd;
  }

  bytesFrom(offset: number, length: number): Buffer {
    if (offset < this.chunkStart || offset + length > this.chunkStart + this.chunk.length) this.fill(offset, length);
    return this.chunk.subarray(offset - this.chunkStart);
  }

  private fill(offset: number, length: number): void {
    if (this.fd === undefined) throw new Error('file content read after release');
    const wanted = Math.min(Math.max(this.chunkBytes, length), this.size - offset);
    const chunk = Buffer.allocUnsafe(wanted);
    let filled = 0;
    while (filled < wanted) {
      const n = readSync(this.fd, chunk, filled, wanted - filled, offset + filled);
      if (n === 0) throw new Error(`file shrank while being served (expected ${this.size} bytes)`);
      filled += n;
    }
    this.chunk = chunk;
    this.chunkStart = offset;
  }

  release(): void {
    if (this.fd === undefined) return;
    const fd = this.fd;
    this.fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed or invalid: nothing left to free.
    }
  }
}

/**
 * RFC 764 netascii: LF becomes CR LF and a bare CR becomes CR NUL. Serving the converted bytes
 * (rather than the file as-is) lets a client in netascii mode restore the original file exactly.
 */
export function toNetascii(bytes: Buffer): Buffer {
  let extra = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte === 0x0a || byte === 0x0d) extra++;
  }
  if (extra === 0) return bytes;
  const out = Buffer.allocUnsafe(bytes.length + extra);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i] as number;
    if (byte === 0x0a) {
      out[o++] = 0x0d;
      out[o++] = 0x0a;
    } else if (byte === 0x0d) {
      out[o++] = 0x0d;
      out[o++] = 0x00;
    } else {
      out[o++] = byte;
    }
  }
  return out;
}

/**
 * What a transfer will send, in a form that can be posted to a worker thread: bytes in memory
 * (shared, not copied, when they come from the cache, whose buffers live in SharedArrayBuffers)
 * or the open descriptor of a file too large to cache (descriptors are per process, so any
 * thread can read it). Whoever ends up holding the spec owns the descriptor.
 */
export type ContentSpec = { kind: 'bytes'; bytes: Uint8Array } | { kind: 'fd'; fd: number; size: number };

export function contentSize(spec: ContentSpec): number {
  return spec.kind === 'bytes' ? spec.bytes.byteLength : spec.size;
}

export function openContent(spec: ContentSpec): FileContent {
  if (spec.kind === 'fd') return new StreamedFileContent(spec.fd, spec.size);
  // A Buffer posted to a worker arrives as a plain Uint8Array: wrap it again without copying.
  const bytes = Buffer.isBuffer(spec.bytes) ? spec.bytes : Buffer.from(spec.bytes.buffer, spec.bytes.byteOffset, spec.bytes.byteLength);
  return new BufferContent(bytes);
}

/** Frees a spec that will never be opened (the request was abandoned). */
export function discardContent(spec: ContentSpec): void {
  openContent(spec).release();
}

// Shared test helpers: temp roots, a log-capturing pino logger, a hand-driven UDP client,
// and running the real TFTP client programs.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { decodePacket, type TftpPacket } from '../../src/tftp/packet.js';

export async function makeTempDir(prefix = 'kickstand-tftp-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A debug-level pino logger whose records land in `records` instead of stdout. */
export function captureLogger(): { log: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void records.push(JSON.parse(line) as LogRecord) });
  return { log, records };
}

export const PINO_ERROR = 50;

export interface Received {
  message: Buffer;
  packet: TftpPacket | undefined;
  from: RemoteInfo;
}

/** A UDP client driven by hand, packet by packet, for what no real client does (strangers, duplicate ACKs, loss). */
export class CraftedClient {
  private readonly queue: Received[] = [];
  private waiters: Array<(received: Received) => void> = [];

  private constructor(readonly socket: Socket) {
    socket.on('message', (message, from) => {
      const decoded = decodePacket(message);
      const received = { message, packet: decoded.ok ? decoded.packet : undefined, from };
      const waiter = this.waiters.shift();
      if (waiter) waiter(received);
      else this.queue.push(received);
    });
  }

  static async open(): Promise<CraftedClient> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new CraftedClient(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** To the server's `port` on `address` (another loopback address plays a second server address). */
  send(bytes: Buffer, port: number, address = '127.0.0.1'): void {
    this.socket.send(bytes, port, address);
  }

  /** The next datagram, or a rejection after `timeoutMs`. */
  next(timeoutMs = 2000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const waiter = (received: Received) => {
        clearTimeout(timer);
        resolve(received);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no datagram within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Every datagram that arrives within `ms` (plus any already queued). */
  async collect(ms: number): Promise<Received[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.queue.splice(0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion (killed after `timeoutMs`), never rejecting. */
export function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: -1, stdout, stderr: String(error) });
    });
  });
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  return sha256(await readFile(path));
}

/** A deterministic pseudo-random sequence of unsigned 32-bit numbers, so failures reproduce. */
export function xorshift32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce byte for byte. */
export function patternBytes(size: number, seed = 0x9e3779b9): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  const next = xorshift32(seed);
  let i = 0;
  for (; i + 4 <= size; i += 4) bytes.writeUInt32LE(next(), i);
  for (; i < size; i++) bytes[i] = i & 0xff;
  return bytes;
}

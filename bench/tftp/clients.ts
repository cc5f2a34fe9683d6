// Running a batch of real TFTP clients (curl, atftp) at once against one server, and checking
// that each one got exactly the served file.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { spawnTracked } from './children.js';
import type { ClientSpec } from './config.js';
import { LossyLink } from './netns.js';

export interface Target {
  host: string;
  port: number;
  /** Namespace the clients run in; none means the benchmark's own. */
  namespace?: string;
}

export interface BatchRequest {
  spec: ClientSpec;
  blksize: number;
  concurrency: number;
  target: Target;
  remoteName: string;
  expectedSha256: string;
  /** Scratch directory for the downloaded copies; removed after checking. */
  outDir: string;
  transferTimeoutMs: number;
}

export interface BatchResult {
  started: number;
  /** Transfers whose output has the source's sha256. */
  completed: number;
  /** From the first client started to the last one exited. */
  wallMs: number;
  /** One line per failed transfer: exit status and the end of its stderr. */
  failures: string[];
}

function clientCommand(spec: ClientSpec, blksize: number, target: Target, remoteName: string, outPath: string): [string, string[]] {
  const args =
    spec.program === 'curl'
      ? // --connect-timeout 5 makes curl ask for a 1 s retransmission timeout (its RRQ "timeout" option
        // is derived from it; the default would be 6 s), the same 1 s both servers use for atftp.
        ['-s', '-S', '-o', outPath, '--connect-timeout', '5', '--tftp-blksize', String(blksize), `tftp://${target.host}:${target.port}/${remoteName}`]
      : ['--option', `blksize ${blksize}`, '--option', `windowsize ${spec.windowsize}`, '-g', '-r', remoteName, '-l', outPath, target.host, String(target.port)];
  return target.namespace ? LossyLink.inNamespace(target.namespace, spec.program, args) : [spec.program, args];
}

interface ClientExit {
  status: string;
  stderr: string;
}

function runClient(command: [string, string[]], timeoutMs: number): Promise<ClientExit> {
  return new Promise((resolve) => {
    const child = spawnTracked(...command, { stdio: ['ignore', 'ignore', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-500);
    });
    child.once('error', (error) => resolve({ status: `spawn error: ${error.message}`, stderr }));
    child.once('close', (code, signal) => {
      const status = signal === 'SIGKILL' ? `killed after the ${timeoutMs / 1000} s transfer timeout` : `exit ${code ?? signal}`;
      resolve({ status, stderr });
    });
  });
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function sha256OrMissing(path: string): Promise<string> {
  try {
    return await sha256OfFile(path);
  } catch {
    return 'missing';
  }
}

export async function runBatch(request: BatchRequest): Promise<BatchResult> {
  await mkdir(request.outDir, { recursive: true });
  const outputs = Array.from({ length: request.concurrency }, (_, i) => join(request.outDir, `copy-${i}`));
  const startedAt = performance.now();
  const exits = await Promise.all(
    outputs.map((out) => runClient(clientCommand(request.spec, request.blksize, request.target, request.remoteName, out), request.transferTimeoutMs)),
  );
  const wallMs = performance.now() - startedAt;

  let completed = 0;
  const failures: string[] = [];
  for (const [i, out] of outputs.entries()) {
    const exit = exits[i] as ClientExit;
    const sha = await sha256OrMissing(out);
    if (sha === request.expectedSha256) {
      completed++;
    } else {
      const content = sha === 'missing' ? 'no output' : 'output differs from the source';
      failures.push(`client ${i}: ${exit.status}, ${content}${exit.stderr.trim() ? `: ${exit.stderr.trim().replaceAll('\n', ' | ')}` : ''}`);
    }
  }
  await rm(request.outDir, { recursive: true, force: true });
  return { started: request.concurrency, completed, wallMs, failures };
}

/** Waits until the server answers a small read (curl, through the namespace if any). */
export async function waitUntilServing(target: Target, remoteName: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const url = `tftp://${target.host}:${target.port}/${remoteName}`;
  const args = ['-s', '-o', '/dev/null', '--max-time', '1', url];
  const command: [string, string[]] = target.namespace ? LossyLink.inNamespace(target.namespace, 'curl', args) : ['curl', args];
  let last: ClientExit | undefined;
  while (Date.now() < deadline) {
    last = await runClient(command, 5_000);
    if (last.status === 'exit 0') return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no TFTP answer from ${url} within ${timeoutMs} ms (${last?.status ?? 'never tried'})`);
}

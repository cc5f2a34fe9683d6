// The server against the TFTP clients people actually run: curl, atftp and tftp-hpa's tftp
// (Debian packages curl, atftp, tftp-hpa). Each test is skipped, saying so, when its client is missing.
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { type FileServedEvent, startTftpServer, type TftpServer } from '../../src/tftp/server.js';
import { hasCommand, makeTempDir, patternBytes, run, sha256, sha256File } from './helpers.js';

const missing = (command: string, pkg: string) => (hasCommand(command) ? false : `${command} not installed (apt-get install ${pkg})`);
const noCurl = missing('curl', 'curl');
const noAtftp = missing('atftp', 'atftp');
const noTftpHpa = missing('tftp', 'tftp-hpa');

const files: Record<string, Buffer> = {
  'small.bin': patternBytes(100_000, 11),
  'empty.bin': Buffer.alloc(0),
  'exact512.bin': patternBytes(512 * 200, 12), // exactly N blocks at blksize 512: ends with an empty DATA
  'exact1468.bin': patternBytes(1468 * 100, 13),
  // > 32 MiB: at blksize 512 the block number wraps past 65535.
  'big.bin': patternBytes(33 * 1024 * 1024 + 123, 14),
};
const hashes = Object.fromEntries(Object.entries(files).map(([name, bytes]) => [name, sha256(bytes)]));
const generatedConfig = 'DEFAULT install\nLABEL install\n  KERNEL vmlinuz\n';

let tmp: { dir: string; cleanup: () => Promise<void> };
let root: string;
let out: string;
let server: TftpServer;
const served: FileServedEvent[] = [];

before(async () => {
  tmp = await makeTempDir();
  root = join(tmp.dir, 'pxe');
  out = join(tmp.dir, 'out');
  await mkdir(root);
  await mkdir(out);
  for (const [name, bytes] of Object.entries(files)) await writeFile(join(root, name), bytes);
  await writeFile(join(tmp.dir, 'secret'), 'not for tftp');
  await symlink(join(tmp.dir, 'secret'), join(root, 'leak'));
  server = await startTftpServer({
    root,
    host: '127.0.0.1',
    port: 0,
    log: pino({ level: 'silent' }),
    generatedFile: (relPath) => (relPath === 'pxelinux.cfg/01-52-54-00-12-34-56' ? generatedConfig : undefined),
    onFileServed: (event) => served.push(event),
  });
});

after(async () => {
  await server?.close();
  await tmp?.cleanup();
});

const url = (name: string) => `tftp://127.0.0.1:${server.port}/${name}`;
let counter = 0;
const outPath = () => join(out, `download-${++counter}`);

async function curlGet(name: string, blksize?: number): Promise<string> {
  const target = outPath();
  const args = ['-sS', '-o', target, ...(blksize ? ['--tftp-blksize', String(blksize)] : []), url(name)];
  const result = await run('curl', args, { timeoutMs: 60_000 });
  assert.equal(result.code, 0, `curl ${args.join(' ')}: ${result.stderr}`);
  return sha256File(target);
}

async function atftpGet(name: string, blksize: number, windowsize: number): Promise<string> {
  const target = outPath();
  const args = ['--option', `windowsize ${windowsize}`, '--option', `blksize ${blksize}`, '-g', '-r', name, '-l', target, '127.0.0.1', String(server.port)];
  const result = await run('atftp', args, { timeoutMs: 60_000 });
  assert.equal(result.code, 0, `atftp ${args.join(' ')}: ${result.stderr}`);
  return sha256File(target);
}

/** tftp-hpa's client exits 0 even on errors, so its output is checked too. */
async function tftpHpa(command: string): Promise<{ output: string }> {
  const result = await run('tftp', ['127.0.0.1', String(server.port), '-m', 'binary', '-c', ...command.split(' ')], { cwd: out, timeoutMs: 60_000 });
  assert.equal(result.code, 0, result.stderr);
  return { output: result.stdout + result.stderr };
}

test('curl: small, empty, exact multiple of blksize, generated file', { skip: noCurl }, async () => {
  assert.equal(await curlGet('small.bin'), hashes['small.bin']);
  assert.equal(await curlGet('small.bin', 1468), hashes['small.bin']);
  assert.equal(await curlGet('empty.bin'), hashes['empty.bin']);
  assert.equal(await curlGet('exact512.bin', 512), hashes['exact512.bin']);
  assert.equal(await curlGet('exact1468.bin', 1468), hashes['exact1468.bin']);
  assert.equal(await curlGet('pxelinux.cfg/01-52-54-00-12-34-56'), sha256(Buffer.from(generatedConfig)));
});

test('curl: 33 MiB at blksize 512 (block number rollover)', { skip: noCurl }, async () => {
  assert.equal(await curlGet('big.bin', 512), hashes['big.bin']);
});

test('curl: upload, traversal, symlink out of the root and unknown files are refused', { skip: noCurl }, async () => {
  const upload = await run('curl', ['-sS', '-T', join(root, 'small.bin'), url('uploaded.bin')]);
  assert.equal(upload.code, 69, `upload should fail with CURLE_TFTP_PERM: ${upload.stderr}`);
  const traversal = await run('curl', ['-sS', '--path-as-is', '-o', outPath(), `tftp://127.0.0.1:${server.port}/../secret`]);
  assert.equal(traversal.code, 69, traversal.stderr);
  const leak = await run('curl', ['-sS', '-o', outPath(), url('leak')]);
  assert.equal(leak.code, 69, leak.stderr);
  const unknown = await run('curl', ['-sS', '-o', outPath(), url('no-such-file')]);
  assert.equal(unknown.code, 68, `unknown file should fail with CURLE_TFTP_NOTFOUND: ${unknown.stderr}`);
});

test('atftp: windowsize 16 and 1 at blksize 1468 and 512, including 33 MiB', { skip: noAtftp }, async () => {
  assert.equal(await atftpGet('small.bin', 1468, 16), hashes['small.bin']);
  assert.equal(await atftpGet('small.bin', 512, 1), hashes['small.bin']);
  assert.equal(await atftpGet('empty.bin', 1468, 16), hashes['empty.bin']);
  assert.equal(await atftpGet('exact1468.bin', 1468, 16), hashes['exact1468.bin']);
  assert.equal(await atftpGet('exact512.bin', 512, 16), hashes['exact512.bin']);
  assert.equal(await atftpGet('big.bin', 1468, 16), hashes['big.bin']);
  assert.equal(await atftpGet('big.bin', 512, 16), hashes['big.bin']);
});

test('atftp: upload and traversal refused', { skip: noAtftp }, async () => {
  const upload = await run('atftp', ['-p', '-l', join(root, 'small.bin'), '-r', 'uploaded.bin', '127.0.0.1', String(server.port)]);
  assert.notEqual(upload.code, 0);
  assert.match(upload.stderr + upload.stdout, /Read-only server/);
  const traversal = await run('atftp', ['-g', '-r', '../secret', '-l', outPath(), '127.0.0.1', String(server.port)]);
  assert.notEqual(traversal.code, 0);
  assert.match(traversal.stderr + traversal.stdout, /not allowed/);
});

test('atftp: 20 concurrent clients with windowsize 16', { skip: noAtftp }, async () => {
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) => atftpGet('exact1468.bin', i % 2 ? 1468 : 512, 16)));
  assert.deepEqual(new Set(results), new Set([hashes['exact1468.bin']]));
});

test('tftp-hpa: lock-step without options: small, empty, exact multiple, 33 MiB, generated', { skip: noTftpHpa }, async () => {
  for (const name of ['small.bin', 'empty.bin', 'exact512.bin', 'big.bin']) {
    const local = `hpa-${name}`;
    await tftpHpa(`get ${name} ${local}`);
    assert.equal(await sha256File(join(out, local)), hashes[name], name);
  }
  await tftpHpa('get pxelinux.cfg/01-52-54-00-12-34-56 hpa-generated');
  assert.equal(await readFile(join(out, 'hpa-generated'), 'utf8'), generatedConfig);
});

test('tftp-hpa: write and traversal refused', { skip: noTftpHpa }, async () => {
  assert.match((await tftpHpa(`put ${join(root, 'small.bin')} uploaded.bin`)).output, /Read-only server/);
  assert.match((await tftpHpa('get ../secret hpa-secret')).output, /not allowed/);
  assert.match((await tftpHpa('get leak hpa-leak')).output, /outside the TFTP root/);
});

test('every completed download above was reported as served', () => {
  assert.ok(served.length > 0);
  for (const event of served) assert.equal(event.peer.address, '127.0.0.1');
  assert.ok(served.some((e) => e.path === 'big.bin' && e.ok && e.bytes === files['big.bin']?.length));
});

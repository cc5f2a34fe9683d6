import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdir, realpath, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { StreamedFileContent, toNetascii } from '../../src/tftp/content.js';
import { FileCache, identityOf } from '../../src/tftp/file-cache.js';
import { closeQuietly, normalizeRequestPath, openInRoot, resolveRoot } from '../../src/tftp/files.js';
import { makeTempDir, patternBytes } from './helpers.js';

test('normalizeRequestPath table', () => {
  const accepted: Array<[string, string]> = [
    ['pxelinux.0', 'pxelinux.0'],
    ['/pxelinux.0', 'pxelinux.0'],
    ['//grub//./grub.cfg', 'grub/grub.cfg'],
    ['pxelinux.cfg\\01-aa-bb-cc-dd-ee-ff', 'pxelinux.cfg/01-aa-bb-cc-dd-ee-ff'],
    ['\\boot\\bcd', 'boot/bcd'],
    ['/etc/passwd', 'etc/passwd'], // re-rooted: an absolute name is looked up under the root, never at /
    ['a..b/c..', 'a..b/c..'],
  ];
  for (const [input, relPath] of accepted) assert.deepEqual(normalizeRequestPath(input), { ok: true, relPath }, input);

  const refused: Array<[string, number]> = [
    ['../etc/passwd', 2],
    ['a/../../x', 2],
    ['a/..', 2],
    ['..\\secret', 2],
    ['C:\\boot.ini', 2],
    ['c:/x', 2],
    ['a\0b', 2],
    ['x'.repeat(1025), 2],
    ['/', 1],
    ['./', 1],
  ];
  for (const [input, code] of refused) {
    const result = normalizeRequestPath(input);
    assert.equal(result.ok, false, input);
    assert.equal(!result.ok && result.code, code, input);
  }
});

let tmp: { dir: string; cleanup: () => Promise<void> };
let root: string;
let outside: string;

before(async () => {
  tmp = await makeTempDir();
  root = join(tmp.dir, 'pxe');
  outside = join(tmp.dir, 'outside');
  await mkdir(join(root, 'grub'), { recursive: true });
  await mkdir(outside);
  await writeFile(join(root, 'pxelinux.0'), 'loader');
  await writeFile(join(root, 'grub', 'grub.cfg'), 'menu');
  await writeFile(join(outside, 'secret'), 'secret');
  await symlink(join(root, 'pxelinux.0'), join(root, 'alias.0')); // inside -> inside
  await symlink('../pxelinux.0', join(root, 'grub', 'relative-alias')); // relative, inside
  await symlink(join(outside, 'secret'), join(root, 'leak')); // inside -> outside file
  await symlink(outside, join(root, 'outdir')); // inside -> outside directory
  await symlink(join(root, 'nowhere'), join(root, 'dangling'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
});

after(async () => {
  await tmp.cleanup();
});

async function openExpect(relPath: string): Promise<{ ok: true; content: string } | { ok: false; code: number }> {
  const rootReal = await resolveRoot(root);
  const opened = await openInRoot(rootReal, relPath);
  if (!opened.ok) return { ok: false, code: opened.code };
  const bytes = Buffer.alloc(opened.stats.size);
  const { readSync } = await import('node:fs');
  readSync(opened.fd, bytes, 0, bytes.length, 0);
  await closeQuietly(opened.fd);
  return { ok: true, content: bytes.toString() };
}

test('openInRoot serves regular files and symlinks that stay inside the root', async () => {
  assert.deepEqual(await openExpect('pxelinux.0'), { ok: true, content: 'loader' });
  assert.deepEqual(await openExpect('grub/grub.cfg'), { ok: true, content: 'menu' });
  assert.deepEqual(await openExpect('alias.0'), { ok: true, content: 'loader' });
  assert.deepEqual(await openExpect('grub/relative-alias'), { ok: true, content: 'loader' });
});

test('openInRoot refuses symlinks out of the root, directories, FIFOs; reports missing files', async () => {
  assert.deepEqual(await openExpect('leak'), { ok: false, code: 2 });
  assert.deepEqual(await openExpect('outdir/secret'), { ok: false, code: 2 });
  assert.deepEqual(await openExpect('grub'), { ok: false, code: 2 });
  assert.deepEqual(await openExpect('fifo'), { ok: false, code: 2 }); // and does not hang
  assert.deepEqual(await openExpect('missing.0'), { ok: false, code: 1 });
  assert.deepEqual(await openExpect('pxelinux.0/below-a-file'), { ok: false, code: 1 });
  assert.deepEqual(await openExpect('dangling'), { ok: false, code: 1 });
});

test('resolveRoot explains a missing root', async () => {
  await assert.rejects(resolveRoot(join(tmp.dir, 'no-such-dir')), /TFTP root .* cannot be used/);
  await assert.rejects(resolveRoot(join(root, 'pxelinux.0')), /is not a directory/);
});

test('FileCache returns the cached copy while the file is unchanged and reloads when it changes', async () => {
  const path = join(tmp.dir, 'cached.bin');
  await writeFile(path, patternBytes(1000));
  const real = await realpath(path);
  const cache = new FileCache(10_000);
  const load = async () => {
    const opened = await openInRoot(tmp.dir, 'cached.bin');
    assert.ok(opened.ok);
    try {
      return await cache.getOrLoad(identityOf(real, opened.stats), opened.fd);
    } finally {
      await closeQuietly(opened.fd);
    }
  };
  const first = await load();
  assert.equal(await load(), first, 'same Buffer instance from memory');
  assert.equal(cache.size, 1000);
  await writeFile(path, patternBytes(1000, 7));
  await utimes(path, new Date(), new Date(Date.now() + 5000));
  const reloaded = await load();
  assert.notEqual(reloaded, first);
  assert.deepEqual(reloaded, patternBytes(1000, 7));
  assert.equal(cache.size, 1000, 'the stale copy was replaced, not kept');
});

test('FileCache evicts least recently used files beyond its byte budget and shares concurrent loads', async () => {
  const cache = new FileCache(2500);
  const names = ['a', 'b', 'c'];
  for (const name of names) await writeFile(join(tmp.dir, `lru-${name}`), patternBytes(1000));
  const load = async (name: string) => {
    const opened = await openInRoot(tmp.dir, `lru-${name}`);
    assert.ok(opened.ok);
    try {
      return await cache.getOrLoad(identityOf(opened.realPath, opened.stats), opened.fd);
    } finally {
      await closeQuietly(opened.fd);
    }
  };
  const [x, y] = await Promise.all([load('a'), load('a')]);
  assert.equal(x, y, 'two concurrent first requests share one read');
  await load('b');
  await load('a'); // a is now more recent than b
  await load('c'); // over budget: b goes
  assert.equal(cache.size, 2000);
  assert.equal(await load('a'), x, 'a survived');
});

test('StreamedFileContent hands out chunks from any offset, forwards and backwards', async () => {
  const path = join(tmp.dir, 'streamed.bin');
  const bytes = patternBytes(10_000, 3);
  await writeFile(path, bytes);
  const fd = openSync(path, 'r');
  const content = new StreamedFileContent(fd, bytes.length, 3000);
  try {
    const first = content.bytesFrom(0, 512);
    assert.deepEqual(first, bytes.subarray(0, 3000), 'a whole chunk from the offset');
    assert.deepEqual(content.bytesFrom(1024, 512), bytes.subarray(1024, 3000), 'inside the chunk: no new read');
    assert.deepEqual(content.bytesFrom(2900, 512), bytes.subarray(2900, 5900), 'past its end: a new chunk from there');
    assert.deepEqual(content.bytesFrom(9728, 272), bytes.subarray(9728), 'the last chunk stops at the end of the file');
    assert.deepEqual(content.bytesFrom(512, 512), bytes.subarray(512, 3512), 'backwards (a resent window)');
    assert.deepEqual(first, bytes.subarray(0, 3000), 'an earlier chunk is never overwritten');
  } finally {
    content.release();
  }
  assert.throws(() => closeSync(fd), /EBADF/, 'release closed the descriptor');
  content.release();
});

test('toNetascii turns LF into CR LF and a bare CR into CR NUL', () => {
  assert.deepEqual(toNetascii(Buffer.from('a\nb\rc\r\n')), Buffer.from('a\r\nb\r\0c\r\0\r\n', 'latin1'));
  const plain = Buffer.from('no line ends');
  assert.equal(toNetascii(plain), plain);
});

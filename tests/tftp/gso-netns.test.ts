// UDP GSO through a real network device, inside two namespaces this test creates and deletes:
//
//   [ns snd] native transfer socket -- veth --[ns rcv] dgram receiver
//
// Once as is (GSO works) and once with the device's MTU below the packet size, where the kernel
// refuses GSO (EINVAL: a segment must fit the MTU, while a plain datagram is fragmented) and the
// addon must fall back to one datagram at a time without losing the window it was sending.
// Needs root and iproute2 (apt-get install -y iproute2).
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';


function unavailable(): string | false {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root to create network namespaces';
  if (spawnSync('sh', ['-c', 'command -v ip']).status !== 0) return 'needs ip (apt-get install -y iproute2)';
  return false;
}
const skip = unavailable();

const id = Math.random().toString(16).slice(2, 6);
const ns = { snd: `ks-gso-${id}-snd`, rcv: `ks-gso-${id}-rcv` };
const dev = { snd: `kg${id}s`, rcv: `kg${id}r` };
const net = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
const SENDER = `${net}.1`;
const RECEIVER = `${net}.2`;

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function deleteNamespaces(): void {
  for (const name of Object.values(ns)) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
}
process.on('exit', () => {
  if (!skip) deleteNamespaces();
});

// Receives for a while and prints the sizes of the datagrams it got, as JSON.
const receiverScript = `
const socket = require('node:dgram').createSocket('udp4');
const sizes = [];
socket.on('message', (bytes) => sizes.push(bytes.length + ':' + bytes[3]));
socket.bind(16969, ${JSON.stringify(RECEIVER)}, () => process.stdout.write('ready\\n'));
setTimeout(() => { process.stdout.write(JSON.stringify(sizes) + '\\n'); process.exit(0); }, 1500);
`;

// Pumps one window of a file (16 blocks of 1468 bytes and a short last one), resends it, and
// prints the send errnos the pump reported (none expected).
const senderScript = `
import { openNativeTransferSocket } from ${JSON.stringify(new URL('../../src/tftp/udp-native.ts', import.meta.url).href)};
const socket = openNativeTransferSocket(${JSON.stringify(SENDER)}, { address: ${JSON.stringify(RECEIVER)}, port: 16969 }, { onAck() {}, onDatagram() {} });
const file = Buffer.alloc(16 * 1468 + 300, 7);
const errors = [];
socket.startPump({ size: file.length, blksize: 1468, windowsize: 17, bytesFrom: (offset) => file.subarray(offset), onDone() {}, onSendError: (errno) => errors.push(errno) });
socket.resendWindow();
socket.close();
process.stdout.write(JSON.stringify(errors) + '\\n');
`;

async function sendWindowsThroughVeth(): Promise<{ sendErrors: number[]; received: string[] }> {
  const receiver = spawn('ip', ['netns', 'exec', ns.rcv, process.execPath, '-e', receiverScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  receiver.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    let exited = false;
    // A receiver that could not bind exits at once: fail, rather than wait for a 'ready' that never comes.
    receiver.once('exit', (code) => {
      exited = true;
      reject(new Error(`receiver exited (${code}) before it was ready: ${output}`));
    });
    const check = () => (output.includes('ready') ? resolve() : exited || setTimeout(check, 10));
    check();
  });
  const sent = run('ip', ['netns', 'exec', ns.snd, process.execPath, '--import', 'tsx', '--input-type=module', '-e', senderScript]);
  await new Promise((resolve) => receiver.once('exit', resolve));
  const lines = output.trim().split('\n');
  return { sendErrors: JSON.parse(sent.trim()) as number[], received: JSON.parse(lines.at(-1) as string) as string[] };
}

describe('UDP GSO over a veth pair', { skip }, () => {
  before(() => {
    for (const name of Object.values(ns)) {
      run('ip', ['netns', 'add', name]);
      run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    }
    run('ip', ['-n', ns.snd, 'link', 'add', dev.snd, 'type', 'veth', 'peer', 'name', dev.rcv, 'netns', ns.rcv]);
    run('ip', ['-n', ns.snd, 'addr', 'add', `${SENDER}/24`, 'dev', dev.snd]);
    run('ip', ['-n', ns.rcv, 'addr', 'add', `${RECEIVER}/24`, 'dev', dev.rcv]);
    run('ip', ['-n', ns.snd, 'link', 'set', dev.snd, 'up']);
    run('ip', ['-n', ns.rcv, 'link', 'set', dev.rcv, 'up']);
  });
  after(deleteNamespaces);

  const expected = [...Array(16).keys()].map((index) => `${1468 + 4}:${index + 1}`).concat(['304:17']);

  it('a pumped window leaves as one GSO send and arrives as its datagrams, in order, also when resent', { timeout: 30_000 }, async () => {
    const { sendErrors, received } = await sendWindowsThroughVeth();
    assert.deepEqual(sendErrors, []);
    assert.deepEqual(received, [...expected, ...expected]);
  });

  it('GSO refused (segments above the MTU): the window still arrives, datagram by datagram (fragmented)', { timeout: 30_000 }, async () => {
    run('ip', ['-n', ns.snd, 'link', 'set', dev.snd, 'mtu', '1200']);
    const { sendErrors, received } = await sendWindowsThroughVeth();
    assert.deepEqual(sendErrors, []);
    assert.deepEqual(received, [...expected, ...expected]);
  });
});


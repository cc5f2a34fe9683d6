import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  decodePacket,
  encodeAck,
  encodeData,
  encodeError,
  encodeOack,
  encodeRequest,
} from '../../src/tftp/packet.js';
import { xorshift32 } from './helpers.js';

const bytes = (...parts: Array<number[] | string>): Buffer =>
  Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part))));

test('request round trip keeps filename, lower-cases mode and option names, keeps option order', () => {
  const encoded = encodeRequest('rrq', 'pxelinux.cfg/01-aa-bb', 'OCTET', [
    { name: 'BlkSize', value: '1468' },
    { name: 'tsize', value: '0' },
  ]);
  assert.deepEqual(encoded, bytes([0, 1], 'pxelinux.cfg/01-aa-bb\0OCTET\0BlkSize\x001468\0tsize\x000\0'));
  assert.deepEqual(decodePacket(encoded), {
    ok: true,
    packet: {
      kind: 'rrq',
      filename: 'pxelinux.cfg/01-aa-bb',
      mode: 'octet',
      options: [
        { name: 'blksize', value: '1468' },
        { name: 'tsize', value: '0' },
      ],
    },
  });
  const wrq = decodePacket(encodeRequest('wrq', 'x', 'netascii'));
  assert.deepEqual(wrq, { ok: true, packet: { kind: 'wrq', filename: 'x', mode: 'netascii', options: [] } });
});

test('DATA, ACK, ERROR and OACK round trip', () => {
  const payload = Buffer.from('hello');
  const data = decodePacket(encodeData(70000, payload));
  assert.ok(data.ok && data.packet.kind === 'data');
  assert.equal(data.packet.block, 70000 & 0xffff);
  assert.deepEqual(data.packet.payload, payload);

  assert.deepEqual(decodePacket(encodeAck(65535)), { ok: true, packet: { kind: 'ack', block: 65535 } });
  assert.deepEqual(decodePacket(encodeError(2, 'Read-only server')), {
    ok: true,
    packet: { kind: 'error', code: 2, message: 'Read-only server' },
  });
  assert.deepEqual(decodePacket(encodeOack([{ name: 'tsize', value: '42' }])), {
    ok: true,
    packet: { kind: 'oack', options: [{ name: 'tsize', value: '42' }] },
  });
});

test('malformed datagrams decode to an error value', () => {
  const cases: Array<[string, Buffer]> = [
    ['empty', bytes([])],
    ['one byte', bytes([0])],
    ['opcode only RRQ', bytes([0, 1])],
    ['RRQ filename without NUL', bytes([0, 1], 'pxelinux.0')],
    ['RRQ empty filename', bytes([0, 1, 0], 'octet\0')],
    ['RRQ without mode', bytes([0, 1], 'file\0')],
    ['RRQ mode without NUL', bytes([0, 1], 'file\0octet')],
    ['DATA too short', bytes([0, 3, 0])],
    ['ACK too short', bytes([0, 4, 1])],
    ['ERROR too short', bytes([0, 5, 0])],
    ['opcode 0', bytes([0, 0, 0, 1])],
    ['opcode 7', bytes([0, 7, 0, 1])],
    ['opcode 65535', bytes([255, 255, 0, 1])],
  ];
  for (const [name, datagram] of cases) {
    const result = decodePacket(datagram);
    assert.equal(result.ok, false, name);
    assert.ok(!result.ok && result.error.length > 0, name);
  }
});

test('lenient where real clients are sloppy: NUL padding, option without value, ERROR without NUL, padded ACK', () => {
  const padded = decodePacket(bytes([0, 1], 'undionly.kpxe\0octet\0tsize\x000\0', [0, 0, 0, 0, 0, 0]));
  assert.deepEqual(padded, {
    ok: true,
    packet: { kind: 'rrq', filename: 'undionly.kpxe', mode: 'octet', options: [{ name: 'tsize', value: '0' }] },
  });
  const dangling = decodePacket(bytes([0, 1], 'f\0octet\0blksize\x001468\0windowsize\0'));
  assert.ok(dangling.ok && dangling.packet.kind === 'rrq');
  assert.deepEqual(dangling.packet.options, [{ name: 'blksize', value: '1468' }]);
  assert.deepEqual(decodePacket(bytes([0, 5, 0, 8], 'no nul')), { ok: true, packet: { kind: 'error', code: 8, message: 'no nul' } });
  assert.deepEqual(decodePacket(bytes([0, 4, 0, 9, 0, 0])), { ok: true, packet: { kind: 'ack', block: 9 } });
});

test('encodeError keeps the message on one NUL-terminated field and bounds its length', () => {
  const withNul = decodePacket(encodeError(0, 'a\0b'));
  assert.deepEqual(withNul, { ok: true, packet: { kind: 'error', code: 0, message: 'a b' } });
  const long = encodeError(0, 'x'.repeat(10_000));
  assert.ok(long.length < 300);
  assert.equal(long[long.length - 1], 0);
});

test('fuzz: random datagrams never make the decoder throw', () => {
  const random = xorshift32(12345);
  for (let i = 0; i < 100_000; i++) {
    const length = random() % 600;
    const datagram = Buffer.allocUnsafe(length);
    for (let j = 0; j < length; j++) {
      // Bias towards NULs and valid opcodes so the string parsing paths are exercised, not just "unknown opcode".
      const r = random();
      datagram[j] = r % 5 === 0 ? 0 : r & 0xff;
    }
    if (length >= 2 && i % 2 === 0) datagram[0] = 0;
    if (length >= 2 && i % 2 === 0) datagram[1] = (random() % 7) + 1;
    const result = decodePacket(datagram);
    assert.equal(typeof result.ok, 'boolean');
  }
});

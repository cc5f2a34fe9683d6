import assert from 'node:assert/strict';
import { test } from 'node:test';
import { negotiateOptions, type OptionLimits } from '../../src/tftp/options.js';
import { decodePacket, encodeRequest, type TftpOption } from '../../src/tftp/packet.js';

const lan: OptionLimits = { maxBlksize: 1468, maxWindowsize: 64, maxWindowBytes: 128 * 1024 };
const loopback: OptionLimits = { ...lan, maxBlksize: 65464 };
const opts = (...pairs: Array<[string, string]>): TftpOption[] => pairs.map(([name, value]) => ({ name, value }));

test('no options: defaults and no OACK', () => {
  assert.deepEqual(negotiateOptions([], 1000, lan), { blksize: 512, windowsize: 1, timeoutMs: undefined, accepted: [] });
});

test('negotiation table', () => {
  const cases: Array<{ name: string; requested: TftpOption[]; size?: number; limits?: OptionLimits; expect: Partial<ReturnType<typeof negotiateOptions>> }> = [
    { name: 'blksize accepted', requested: opts(['blksize', '1468']), expect: { blksize: 1468, accepted: opts(['blksize', '1468']) } },
    { name: 'blksize above LAN max clamped', requested: opts(['blksize', '65464']), expect: { blksize: 1468, accepted: opts(['blksize', '1468']) } },
    { name: 'blksize 65464 on loopback', requested: opts(['blksize', '65464']), limits: loopback, expect: { blksize: 65464 } },
    { name: 'blksize above RFC max clamped', requested: opts(['blksize', '99999']), limits: loopback, expect: { blksize: 65464 } },
    { name: 'blksize below 8 ignored', requested: opts(['blksize', '7']), expect: { blksize: 512, accepted: [] } },
    { name: 'blksize not a number ignored', requested: opts(['blksize', '1e3']), expect: { blksize: 512, accepted: [] } },
    { name: 'blksize negative ignored', requested: opts(['blksize', '-1']), expect: { accepted: [] } },
    { name: 'tsize answered with real size', requested: opts(['tsize', '0']), expect: { accepted: opts(['tsize', '123456789']) } },
    { name: 'tsize of an empty file left unanswered (curl refuses tsize 0)', requested: opts(['tsize', '0']), size: 0, expect: { accepted: [] } },
    { name: 'timeout honoured', requested: opts(['timeout', '3']), expect: { timeoutMs: 3000, accepted: opts(['timeout', '3']) } },
    { name: 'timeout 0 ignored', requested: opts(['timeout', '0']), expect: { timeoutMs: undefined, accepted: [] } },
    { name: 'timeout 256 ignored', requested: opts(['timeout', '256']), expect: { timeoutMs: undefined, accepted: [] } },
    { name: 'windowsize accepted', requested: opts(['windowsize', '16']), expect: { windowsize: 16, accepted: opts(['windowsize', '16']) } },
    { name: 'windowsize clamped to 64', requested: opts(['windowsize', '65535']), expect: { windowsize: 64 } },
    { name: 'windowsize 0 ignored', requested: opts(['windowsize', '0']), expect: { windowsize: 1, accepted: [] } },
    {
      name: 'windowsize bounded by bytes per window, whatever the option order',
      requested: opts(['windowsize', '16'], ['blksize', '65464']),
      limits: loopback,
      expect: { blksize: 65464, windowsize: 2, accepted: opts(['windowsize', '2'], ['blksize', '65464']) },
    },
    { name: 'unknown options ignored', requested: opts(['rollover', '0'], ['utimeout', '500']), expect: { accepted: [] } },
    { name: 'first of duplicate options wins', requested: opts(['blksize', '1024'], ['blksize', '8']), expect: { blksize: 1024, accepted: opts(['blksize', '1024']) } },
    {
      name: 'order of the request kept',
      requested: opts(['tsize', '0'], ['blksize', '1468'], ['timeout', '5']),
      expect: { accepted: opts(['tsize', '123456789'], ['blksize', '1468'], ['timeout', '5']) },
    },
  ];
  for (const { name, requested, size, limits, expect } of cases) {
    const result = negotiateOptions(requested, size ?? 123456789, limits ?? lan);
    for (const [key, value] of Object.entries(expect)) {
      assert.deepEqual(result[key as keyof typeof result], value, `${name}: ${key}`);
    }
  }
});

test('option names are case-insensitive end to end (decoder lower-cases them)', () => {
  const decoded = decodePacket(encodeRequest('rrq', 'f', 'octet', opts(['BLKSIZE', '1024'], ['TSize', '0'], ['WindowSize', '4'])));
  assert.ok(decoded.ok && decoded.packet.kind === 'rrq');
  const result = negotiateOptions(decoded.packet.options, 10, lan);
  assert.equal(result.blksize, 1024);
  assert.equal(result.windowsize, 4);
  assert.deepEqual(result.accepted, opts(['blksize', '1024'], ['tsize', '10'], ['windowsize', '4']));
});

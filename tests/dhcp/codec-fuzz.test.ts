// Fuzzing with a seeded PRNG so a failure reproduces: random bytes and mutated firmware packets
// must decode to a value or an error, never an exception; whatever decodes must re-encode and
// pass through both responders without throwing.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { decodePacket, encodePacket, type DhcpPacket } from '../../src/dhcp/codec.js';
import { answerFull, FULL_DEFAULTS } from '../../src/dhcp/full.js';
import { openLeaseStore } from '../../src/dhcp/lease-store.js';
import { read } from '../../src/dhcp/options.js';
import { PoolConfigSchema } from '../../src/dhcp/pool.js';
import { answerProxy } from '../../src/dhcp/proxy.js';
import type { IncomingRequest } from '../../src/dhcp/request.js';
import { arm64Discover, httpClientDiscover, ipxeDiscover, nmapDiscover, plainDiscover, pxeBiosDiscover, rawPacket, uefiX64Discover } from './firmware-packets.js';

const SEED = Number(process.env.KS_FUZZ_SEED ?? 0x5eed1234);
const ITERATIONS = 100_000;

/** mulberry32: tiny, fast, good enough to drive a fuzzer. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const seeds = [
  pxeBiosDiscover(),
  uefiX64Discover(),
  arm64Discover(),
  httpClientDiscover(),
  ipxeDiscover(),
  plainDiscover(),
  nmapDiscover(),
  rawPacket({ ciaddr: '10.0.0.20' }, [[53, [3]], [54, [10, 0, 0, 1]], [50, [10, 0, 0, 20]], [43, [71, 4, 0, 0, 0, 0, 255]], [60, 'PXEClient:Arch:00007:UNDI:003016'], [93, [0, 7]]]),
  rawPacket({ file: Buffer.from([60, 9, ...Buffer.from('PXEClient'), 255]) }, [[53, [1]], [52, [1]]]),
];

function mutate(base: Buffer, rand: () => number): Buffer {
  const bytes = Buffer.from(base);
  const pick = (n: number): number => Math.floor(rand() * n);
  switch (pick(5)) {
    case 0: // flip a few bytes, biased to the options area
      for (let i = 0, n = 1 + pick(8); i < n; i++) bytes[rand() < 0.7 ? 240 + pick(bytes.length - 240) : pick(bytes.length)] = pick(256);
      return bytes;
    case 1: // truncate
      return bytes.subarray(0, pick(bytes.length + 1));
    case 2: // corrupt one option length
      bytes[241 + pick(Math.max(1, bytes.length - 241))] = pick(256);
      return bytes;
    case 3: {
      // splice random option-looking bytes after the cookie
      const junk = Buffer.from(Array.from({ length: pick(64) }, () => pick(256)));
      return Buffer.concat([bytes.subarray(0, 240 + pick(bytes.length - 240)), junk]);
    }
    default: // random overload value and random file/sname contents
      bytes.fill(pick(256), 44 + pick(192), 44 + pick(192));
      return Buffer.concat([bytes.subarray(0, 240), Buffer.from([52, 1, pick(5)]), bytes.subarray(240)]);
  }
}

function randomBytes(rand: () => number): Buffer {
  const length = Math.floor(rand() * 700);
  const bytes = Buffer.from(Array.from({ length }, () => Math.floor(rand() * 256)));
  // Half the time carry a valid cookie so the fuzzer reaches the option parser.
  if (length >= 240 && rand() < 0.5) bytes.writeUInt32BE(0x63825363, 236);
  return bytes;
}

function exerciseAccessors(p: DhcpPacket): void {
  for (const accessor of Object.values(read)) accessor(p.options);
}

describe(`codec fuzz (seed ${SEED}, ${ITERATIONS} iterations)`, () => {
  const store = openLeaseStore(':memory:');
  assert.ok(store.ok);
  const leases = store.value;
  after(() => leases.close());
  const boot = { serverIp: '10.0.0.1', httpBaseUrl: 'http://10.0.0.1:8080', onlyKnownMacs: false };
  const ports = { server: 67, client: 68, pxe: 4011 };
  const fullConfig = {
    boot,
    localSubnet: { address: '10.0.0.1', mask: '255.255.255.0' },
    pool: PoolConfigSchema.parse({ start: '10.0.0.100', end: '10.0.0.110', subnetMask: '255.255.255.0' }),
    ...FULL_DEFAULTS,
    ports,
  };
  let clock = 1_700_000_000_000;
  const fullDeps = {
    leases,
    now: () => (clock += 1000),
    lookupHost: (mac: string) => (mac.endsWith('1') ? { known: true, loader: 'ipxe' as const, reservation: { ip: '10.0.0.42' } } : undefined),
  };

  it('never throws, and what decodes re-encodes and is answered without throwing', () => {
    const rand = prng(SEED);
    let decodedCount = 0;
    let respondedCount = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const bytes = i % 2 === 0 ? randomBytes(rand) : mutate(seeds[i % seeds.length]!, rand);
      let result;
      try {
        result = decodePacket(bytes);
      } catch (e) {
        assert.fail(`decodePacket threw on iteration ${i} (seed ${SEED}) for ${bytes.toString('hex')}: ${String(e)}`);
      }
      if (!result.ok) continue;
      decodedCount++;
      const p = result.value;
      exerciseAccessors(p);
      const encoded = encodePacket(p);
      if (encoded.ok) assert.ok(decodePacket(encoded.value).ok, `re-decode failed at iteration ${i}`);
      // The responders see a sample: full mode writes to SQLite on most answers.
      if (i % 5 === 1) {
        const request: IncomingRequest = { packet: p, receivedOn: i % 3 === 0 ? 'pxe' : 'dhcp', unicast: i % 2 === 0, source: { address: '0.0.0.0', port: 68 } };
        answerProxy(request, { boot, ports }, { lookupHost: () => undefined });
        answerFull(request, fullConfig, fullDeps);
        respondedCount++;
      }
    }
    // The mutations must actually reach the parser, not just bounce off the header checks.
    assert.ok(decodedCount > ITERATIONS / 5, `only ${decodedCount} packets decoded`);
    assert.ok(respondedCount > 1000);
  });
});

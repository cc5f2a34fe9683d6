import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { answerFull, FULL_DEFAULTS, type FullConfig } from '../../src/dhcp/full.js';
import { openLeaseStore, type Lease, type LeaseStore } from '../../src/dhcp/lease-store.js';
import { read } from '../../src/dhcp/options.js';
import { PoolConfigSchema } from '../../src/dhcp/pool.js';
import { rawPacket } from './firmware-packets.js';
import { incoming, replyOf } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ks-leases-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function open(path: string): LeaseStore {
  const store = openLeaseStore(path);
  if (!store.ok) assert.fail(store.error);
  return store.value;
}

const lease = (ip: string, mac: string, over: Partial<Lease> = {}): Lease => ({
  ip,
  mac,
  state: 'bound',
  expiresAt: 2_000_000,
  updatedAt: 1_000_000,
  ...over,
});

describe('SQLite lease store', () => {
  it('keeps leases across close and reopen, in WAL mode', () => {
    const path = join(dir, 'persist.db');
    const first = open(path);
    first.put(lease('10.0.0.100', 'aa:00:00:00:00:01', { hostname: 'n1' }));
    first.put(lease('10.0.0.101', 'aa:00:00:00:00:02', { state: 'offered' }));
    first.close();

    const again = open(path);
    assert.deepEqual(again.byIp('10.0.0.100'), lease('10.0.0.100', 'aa:00:00:00:00:01', { hostname: 'n1' }));
    assert.equal(again.byMac('aa:00:00:00:00:02')?.state, 'offered');
    assert.equal(again.all().length, 2);
    again.close();

    const raw = new Database(path, { readonly: true });
    assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    raw.close();
  });

  it('keeps one address per MAC', () => {
    const store = open(':memory:');
    store.put(lease('10.0.0.100', 'aa:00:00:00:00:01'));
    store.put(lease('10.0.0.105', 'aa:00:00:00:00:01', { updatedAt: 1_000_001 }));
    assert.equal(store.byIp('10.0.0.100'), undefined);
    assert.equal(store.byMac('aa:00:00:00:00:01')?.ip, '10.0.0.105');
    store.close();
  });

  it('declined rows belong to no MAC and survive the MAC moving on', () => {
    const store = open(':memory:');
    store.put(lease('10.0.0.100', '', { state: 'declined' }));
    store.put(lease('10.0.0.101', '', { state: 'declined' }));
    store.put(lease('10.0.0.102', 'aa:00:00:00:00:01'));
    assert.equal(store.byMac(''), undefined);
    assert.equal(store.all().filter((l) => l.state === 'declined').length, 2);
    store.close();
  });

  it('lists a range in address order', () => {
    const store = open(':memory:');
    for (const ip of ['10.0.0.9', '10.0.0.10', '10.0.0.100', '10.0.1.1']) store.put(lease(ip, `aa:${ip}`));
    assert.deepEqual(store.inRange('10.0.0.9', '10.0.0.100').map((l) => l.ip), ['10.0.0.9', '10.0.0.10', '10.0.0.100']);
    store.remove('10.0.0.10');
    assert.deepEqual(store.inRange('10.0.0.0', '10.0.0.255').map((l) => l.ip), ['10.0.0.9', '10.0.0.100']);
    store.close();
  });

  it('reports an unusable path as an error value', () => {
    const store = openLeaseStore(join(dir, 'missing-dir', 'leases.db'));
    assert.equal(store.ok, false);
    if (!store.ok) assert.match(store.error, /cannot open lease database .*writable/);
  });

  it('a client keeps its address across a server restart', () => {
    const path = join(dir, 'restart.db');
    const config: FullConfig = {
      boot: { serverIp: '10.0.0.1', httpBaseUrl: 'http://10.0.0.1', onlyKnownMacs: false },
      localSubnet: { address: '10.0.0.1', mask: '255.255.255.0' },
      pool: PoolConfigSchema.parse({ start: '10.0.0.100', end: '10.0.0.110', subnetMask: '255.255.255.0' }),
      ...FULL_DEFAULTS,
      ports: { server: 67, client: 68, pxe: 4011 },
    };
    const now = () => 1_700_000_000_000;
    const discover = (mac: string) => incoming(rawPacket({ mac, flags: 0 }, [[53, [1]]]));
    const request = (mac: string, ip: string) =>
      incoming(rawPacket({ mac, flags: 0 }, [[53, [3]], [50, ip.split('.').map(Number)], [54, [10, 0, 0, 1]]]));

    const before = open(path);
    const deps = { leases: before, now, lookupHost: () => undefined };
    replyOf(answerFull(discover('aa:00:00:00:00:01'), config, deps));
    const ip = replyOf(answerFull(discover('aa:00:00:00:00:02'), config, deps)).yiaddr;
    assert.equal(read.messageType(replyOf(answerFull(request('aa:00:00:00:00:02', ip), config, deps)).options), 5);
    before.close();

    const after = open(path);
    const restarted = { leases: after, now, lookupHost: () => undefined };
    assert.equal(replyOf(answerFull(discover('aa:00:00:00:00:02'), config, restarted)).yiaddr, ip);
    assert.notEqual(replyOf(answerFull(discover('aa:00:00:00:00:03'), config, restarted)).yiaddr, ip);
    after.close();
  });
});

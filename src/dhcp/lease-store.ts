// Leases of full mode, kept in SQLite so they survive restarts and crashes.
// One row per address; at most one live row per MAC. Times are milliseconds since the epoch.

import Database from 'better-sqlite3';
import { ipToInt } from './ipv4.js';
import { err, ok, type Result } from './result.js';

export type LeaseState = 'offered' | 'bound' | 'released' | 'declined';

export interface Lease {
  ip: string;
  /** Empty for a declined address: it belongs to nobody until the hold expires. */
  mac: string;
  state: LeaseState;
  expiresAt: number;
  hostname?: string | undefined;
  updatedAt: number;
}

export interface LeaseStore {
  byIp(ip: string): Lease | undefined;
  /** The MAC's lease row, whatever its state or expiry (expired rows make addresses sticky). */
  byMac(mac: string): Lease | undefined;
  /** Rows whose address lies between first and last inclusive, in address order. */
  inRange(first: string, last: string): Lease[];
  all(): Lease[];
  /** Insert or replace the row for lease.ip; the MAC's rows for other addresses are dropped. */
  put(lease: Lease): void;
  remove(ip: string): void;
  close(): void;
}

interface LeaseRow {
  ip: string;
  mac: string;
  state: LeaseState;
  expires_at: number;
  hostname: string | null;
  updated_at: number;
}

const SCHEMA_VERSION = 1;

function toLease(row: LeaseRow | undefined): Lease | undefined {
  if (row === undefined) return undefined;
  return {
    ip: row.ip,
    mac: row.mac,
    state: row.state,
    expiresAt: row.expires_at,
    hostname: row.hostname ?? undefined,
    updatedAt: row.updated_at,
  };
}

/** Open (creating if needed) the lease database at path; ':memory:' gives a throwaway store. */
export function openLeaseStore(path: string): Result<LeaseStore, string> {
  let db: Database.Database;
  try {
    db = new Database(path);
    db.pragma('journal_mode = WAL');
    // FULL: an acknowledged lease survives a power cut (NORMAL may roll the last commits back, and
    // the address would be handed out twice). DHCP writes are few.
    db.pragma('synchronous = FULL');
    db.pragma('busy_timeout = 2000');
    const version = db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      db.close();
      return err(`lease database ${path} has schema version ${version}, newer than this kickstand (${SCHEMA_VERSION}); upgrade kickstand or move the file away`);
    }
    db.exec(`
      CREATE TABLE IF NOT EXISTS leases (
        ip TEXT PRIMARY KEY,
        ip_int INTEGER NOT NULL,
        mac TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('offered', 'bound', 'released', 'declined')),
        expires_at INTEGER NOT NULL,
        hostname TEXT,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS leases_mac ON leases (mac);
      CREATE INDEX IF NOT EXISTS leases_ip_int ON leases (ip_int);
    `);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  } catch (e) {
    return err(`cannot open lease database ${path}: ${(e as Error).message}; check the directory exists and is writable`);
  }

  const columns = 'ip, mac, state, expires_at, hostname, updated_at';
  const byIp = db.prepare<[string], LeaseRow>(`SELECT ${columns} FROM leases WHERE ip = ?`);
  const byMac = db.prepare<[string], LeaseRow>(
    `SELECT ${columns} FROM leases WHERE mac = ? AND mac <> '' ORDER BY updated_at DESC LIMIT 1`,
  );
  const inRange = db.prepare<[number, number], LeaseRow>(
    `SELECT ${columns} FROM leases WHERE ip_int BETWEEN ? AND ? ORDER BY ip_int`,
  );
  const all = db.prepare<[], LeaseRow>(`SELECT ${columns} FROM leases ORDER BY ip_int`);
  const dropOtherRowsOfMac = db.prepare(`DELETE FROM leases WHERE mac = ? AND mac <> '' AND ip <> ?`);
  const upsert = db.prepare(
    `INSERT OR REPLACE INTO leases (ip, ip_int, mac, state, expires_at, hostname, updated_at)
     VALUES (@ip, @ip_int, @mac, @state, @expires_at, @hostname, @updated_at)`,
  );
  const remove = db.prepare(`DELETE FROM leases WHERE ip = ?`);
  const put = db.transaction((lease: Lease) => {
    dropOtherRowsOfMac.run(lease.mac, lease.ip);
    upsert.run({
      ip: lease.ip,
      ip_int: ipToInt(lease.ip),
      mac: lease.mac,
      state: lease.state,
      expires_at: Math.round(lease.expiresAt),
      hostname: lease.hostname ?? null,
      updated_at: Math.round(lease.updatedAt),
    });
  });

  return ok({
    byIp: (ip) => toLease(byIp.get(ip)),
    byMac: (mac) => toLease(byMac.get(mac)),
    inRange: (first, last) => inRange.all(ipToInt(first), ipToInt(last)).map((r) => toLease(r)!),
    all: () => all.all().map((r) => toLease(r)!),
    put: (lease) => {
      put(lease);
    },
    remove: (ip) => {
      remove.run(ip);
    },
    close: () => {
      if (db.open) db.close();
    },
  });
}

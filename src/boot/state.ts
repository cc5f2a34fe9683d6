import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';

export const buildStateSchema = z.enum(['pending', 'installing', 'built']);
export type BuildState = z.infer<typeof buildStateSchema>;

export const eventKindSchema = z.enum(['dhcp', 'tftp', 'boot-script', 'kickstart', 'built', 'reinstall']);
export type EventKind = z.infer<typeof eventKindSchema>;

export const hostStateSchema = z.object({
  host: z.string(),
  state: buildStateSchema,
  /** ISO time the state was entered. */
  since: z.string(),
  /** Address that last fetched the host's kickstart: /built is accepted from it. */
  kickstart_ip: z.string().nullable(),
  last_event: eventKindSchema.nullable(),
  last_event_detail: z.string().nullable(),
  last_event_at: z.string().nullable(),
});
export type HostState = z.infer<typeof hostStateSchema>;

export const hostEventSchema = z.object({
  at: z.string(),
  kind: eventKindSchema,
  detail: z.string(),
  ip: z.string().nullable(),
});
export type HostEvent = z.infer<typeof hostEventSchema>;

/** Events kept per host: enough to see the last few installs, bounded so the file cannot grow forever. */
const EVENTS_KEPT_PER_HOST = 500;

/**
 * Build mode and the event log of every host, in one SQLite file under the
 * data directory (WAL, synchronous writes), so it survives restarts and
 * crashes. A host never seen is `pending`.
 */
export class StateStore {
  private readonly db: Database.Database;
  private readonly statements;

  constructor(readonly file: string, private readonly now: () => Date = () => new Date()) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL: a host marked built stays built across a power cut (else it would reinstall).
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS host_state (
        host TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('pending', 'installing', 'built')),
        since TEXT NOT NULL,
        kickstart_ip TEXT
      );
      CREATE TABLE IF NOT EXISTS host_event (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        host TEXT NOT NULL,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT NOT NULL,
        ip TEXT
      );
      CREATE INDEX IF NOT EXISTS host_event_by_host ON host_event (host, id);
    `);
    this.statements = {
      state: this.db.prepare<[string], { host: string; state: string; since: string; kickstart_ip: string | null }>('SELECT * FROM host_state WHERE host = ?'),
      lastEvent: this.db.prepare<[string], { kind: string; detail: string; at: string }>('SELECT kind, detail, at FROM host_event WHERE host = ? ORDER BY id DESC LIMIT 1'),
      events: this.db.prepare<[string, number], { at: string; kind: string; detail: string; ip: string | null }>('SELECT at, kind, detail, ip FROM host_event WHERE host = ? ORDER BY id DESC LIMIT ?'),
      setState: this.db.prepare('INSERT INTO host_state (host, state, since, kickstart_ip) VALUES (@host, @state, @since, @kickstart_ip) ON CONFLICT (host) DO UPDATE SET state = excluded.state, since = excluded.since, kickstart_ip = excluded.kickstart_ip'),
      addEvent: this.db.prepare('INSERT INTO host_event (host, at, kind, detail, ip) VALUES (?, ?, ?, ?, ?)'),
      trim: this.db.prepare('DELETE FROM host_event WHERE host = ? AND id <= (SELECT id FROM host_event WHERE host = ? ORDER BY id DESC LIMIT 1 OFFSET ?)'),
    };
  }

  get(host: string): HostState {
    const row = this.statements.state.get(host);
    const last = this.statements.lastEvent.get(host);
    return hostStateSchema.parse({
      host,
      state: row?.state ?? 'pending',
      since: row?.since ?? new Date(0).toISOString(),
      kickstart_ip: row?.kickstart_ip ?? null,
      last_event: last?.kind ?? null,
      last_event_detail: last?.detail ?? null,
      last_event_at: last?.at ?? null,
    });
  }

  events(host: string, limit = 50): HostEvent[] {
    return this.statements.events.all(host, limit).map((row) => hostEventSchema.parse(row));
  }

  /** Appends to the host's event log. */
  record(host: string, kind: EventKind, detail: string, ip?: string): void {
    this.statements.addEvent.run(host, this.now().toISOString(), kind, detail, ip ?? null);
    this.statements.trim.run(host, host, EVENTS_KEPT_PER_HOST);
  }

  /**
   * The host's kickstart was fetched: a pending host is installing now, and /built is accepted
   * from the address of that first fetch (a later one, say an admin's curl, does not take it
   * over). A built host stays built, so reading its kickstart does not put it back into build
   * mode, unless it installs on every boot (`install: always`): then this fetch starts an install.
   */
  kickstartServed(host: string, ip: string, detail: string, installsEveryBoot: boolean): void {
    this.db.transaction(() => {
      const state = this.get(host).state;
      if (state === 'pending' || (state === 'built' && installsEveryBoot)) {
        this.statements.setState.run({ host, state: 'installing', since: this.now().toISOString(), kickstart_ip: ip });
      }
      this.record(host, 'kickstart', detail, ip);
    })();
  }

  markBuilt(host: string, ip: string, detail: string): void {
    this.db.transaction(() => {
      this.statements.setState.run({ host, state: 'built', since: this.now().toISOString(), kickstart_ip: null });
      this.record(host, 'built', detail, ip);
    })();
  }

  /** Back to pending: the next network boot installs again. */
  reinstall(host: string, detail: string): void {
    this.db.transaction(() => {
      this.statements.setState.run({ host, state: 'pending', since: this.now().toISOString(), kickstart_ip: null });
      this.record(host, 'reinstall', detail);
    })();
  }

  close(): void {
    this.db.close();
  }
}

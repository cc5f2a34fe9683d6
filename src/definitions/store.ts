import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log.js';
import { formatProblem, type Problem } from '../errors.js';
import { classifyDefinitionPath, toPosix, type DefinitionEntry } from './catalog.js';
import { parsePackerVarFile } from './packer.js';
import { Snapshot, type DefinitionFile } from './snapshot.js';
import { parseYamlSource, type ParseResult } from './source.js';
import { validateDefinition } from './validate.js';

export interface ReloadEvent {
  snapshot: Snapshot;
  /** Ids whose file was added, changed or removed in this reload. */
  changed: string[];
  /** Problems that appeared with this reload. */
  newProblems: Problem[];
}

export interface DefinitionStoreOptions {
  /** The folder holding builds/; messages name files relative to it. */
  root: string;
  log: Logger;
  /** Safety-net rescan for changes fs.watch cannot see (files behind symlinks, network filesystems). */
  pollIntervalMs?: number;
}

/**
 * Holds the definitions in memory and keeps them current. A file that fails to
 * parse or validate keeps its last good version serving; its problems are
 * logged once and reported by `problems()`.
 */
export class DefinitionStore extends EventEmitter<{ reload: [ReloadEvent] }> {
  private snapshot = new Snapshot(0, new Map());
  private watcher?: fs.FSWatcher;
  private pollTimer?: NodeJS.Timeout;
  private debounceTimer?: NodeJS.Timeout;
  private reloading: Promise<Snapshot> | undefined;
  private reloadAgain = false;
  readonly buildsDir: string;

  constructor(private readonly options: DefinitionStoreOptions) {
    super();
    this.buildsDir = path.join(options.root, 'builds');
  }

  get current(): Snapshot {
    return this.snapshot;
  }

  /** Rescans builds/; concurrent calls coalesce into one rescan plus, if needed, one more. */
  reload(): Promise<Snapshot> {
    if (this.reloading) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.reloading = this.rescan().finally(() => {
      this.reloading = undefined;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  /** Watches builds/ for edits, atomic renames, new and deleted files. */
  watch(): void {
    const schedule = (): void => {
      clearTimeout(this.debounceTimer);
      // Editors write in several steps (truncate, write, rename): wait for the burst to end.
      this.debounceTimer = setTimeout(() => void this.reload(), 75);
    };
    try {
      this.watcher = fs.watch(this.buildsDir, { recursive: true }, schedule);
      this.watcher.on('error', (error) => this.options.log.warn({ err: error }, 'watching builds/ failed; relying on the periodic rescan'));
    } catch (error) {
      this.options.log.warn({ err: error }, 'cannot watch builds/; relying on the periodic rescan');
    }
    this.pollTimer = setInterval(() => void this.reload(), this.options.pollIntervalMs ?? 5000);
    this.pollTimer.unref();
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.pollTimer);
    clearTimeout(this.debounceTimer);
  }

  private async rescan(): Promise<Snapshot> {
    const previous = this.snapshot;
    const found = await this.listDefinitionFiles();
    const files = new Map<string, DefinitionFile>();
    const globalProblems: Problem[] = [];
    const newProblems: { id: string; problem: Problem }[] = [];
    const changed: string[] = [];

    const byId = new Map<string, { entry: DefinitionEntry; relative: string }[]>();
    for (const item of found) byId.set(item.entry.id, [...(byId.get(item.entry.id) ?? []), item]);

    for (const [id, candidates] of byId) {
      const before = previous.get(id);
      if (candidates.length > 1) {
        const names = candidates.map((candidate) => `builds/${candidate.relative}`).sort();
        const problem: Problem = { file: names[0]!, line: 0, severity: 'error', message: `${names.join(' and ')} both define '${id}'; remove one` };
        globalProblems.push(problem);
        if (before) files.set(id, { ...before, problems: [problem] });
        if (!previous.globalProblems.some((p) => p.message === problem.message)) newProblems.push({ id, problem });
        continue;
      }
      const { entry, relative } = candidates[0]!;
      const file = `builds/${relative}`;
      const stamp = await this.stampOf(path.join(this.buildsDir, relative));
      if (stamp === undefined) continue; // vanished between listing and stat
      if (before && before.stamp === stamp && before.file === file) {
        files.set(id, before);
        continue;
      }
      const loaded = await this.loadFile(entry, file, path.join(this.buildsDir, relative));
      const next: DefinitionFile = { entry, file, stamp, good: loaded.ok ? loaded.source : before?.good, problems: loaded.ok ? [] : loaded.problems };
      files.set(id, next);
      changed.push(id);
      newProblems.push(...next.problems.map((problem) => ({ id, problem })));
    }
    for (const id of previous.files.keys()) if (!files.has(id)) changed.push(id);

    if (changed.length === 0 && globalProblems.length === previous.globalProblems.length && previous.generation > 0) return previous;
    this.snapshot = new Snapshot(previous.generation + 1, files, globalProblems, previous.hosts);
    for (const { id, problem } of newProblems) {
      const kept = files.get(id)?.good;
      this.options.log.error({ file: problem.file, line: problem.line }, `${formatProblem(problem)}${kept ? ' (still serving its last good version)' : ''}`);
    }
    // Conflicts between host files (a MAC, UUID or address claimed twice) appear only across files.
    const knownHostProblems = new Set(previous.hosts.problems.map(formatProblem));
    const newHostProblems = this.snapshot.hosts.problems.filter((problem) => !knownHostProblems.has(formatProblem(problem)));
    for (const problem of newHostProblems) this.options.log.error({ file: problem.file, line: problem.line }, formatProblem(problem));
    if (previous.generation > 0 && changed.length > 0) this.options.log.info({ changed, generation: this.snapshot.generation }, 'definitions reloaded');
    this.emit('reload', { snapshot: this.snapshot, changed, newProblems: [...newProblems.map(({ problem }) => problem), ...newHostProblems] });
    return this.snapshot;
  }

  private async loadFile(entry: DefinitionEntry, file: string, absolute: string): Promise<ParseResult> {
    let text: string;
    try {
      text = await fsp.readFile(absolute, 'utf8');
    } catch (error) {
      return { ok: false, problems: [{ file, line: 0, severity: 'error', message: `cannot read: ${(error as Error).message}` }] };
    }
    if (entry.kind === 'packer-site' || entry.kind === 'packer-os') return parsePackerVarFile(file, text);
    const parsed = parseYamlSource(file, text);
    if (!parsed.ok) return parsed;
    const validated = validateDefinition(file, entry.kind, parsed.source);
    return validated.ok ? { ok: true, source: validated.source } : validated;
  }

  private async stampOf(absolute: string): Promise<string | undefined> {
    try {
      const stat = await fsp.stat(absolute);
      return stat.isFile() ? `${stat.mtimeMs}:${stat.size}:${stat.ino}` : undefined;
    } catch {
      return undefined;
    }
  }

  private async listDefinitionFiles(): Promise<{ entry: DefinitionEntry; relative: string }[]> {
    const result: { entry: DefinitionEntry; relative: string }[] = [];
    const walk = async (dir: string, depth: number): Promise<void> => {
      let names: string[];
      try {
        names = await fsp.readdir(dir);
      } catch {
        return;
      }
      for (const name of names) {
        if (name.startsWith('.')) continue;
        const absolute = path.join(dir, name);
        const stat = await fsp.stat(absolute).catch(() => undefined);
        if (!stat) continue;
        if (stat.isDirectory() && depth < 2) await walk(absolute, depth + 1);
        else if (stat.isFile()) {
          const relative = toPosix(path.relative(this.buildsDir, absolute));
          const entry = classifyDefinitionPath(relative);
          if (entry) result.push({ entry, relative });
        }
      }
    };
    await walk(this.buildsDir, 0);
    return result;
  }
}

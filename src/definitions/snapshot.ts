import type { Problem } from '../errors.js';
import type { DefinitionEntry } from './catalog.js';
import { indexHosts, type HostIndex } from './hosts.js';
import type { ParsedSource } from './source.js';

/** One definition file as the server currently knows it. */
export interface DefinitionFile {
  entry: DefinitionEntry;
  /** Path relative to the root, e.g. `builds/virtual/docker.yaml`: what messages name. */
  file: string;
  /** The last version that parsed and validated; undefined if there never was one. */
  good?: ParsedSource;
  /** Problems of the version on disk now; non-empty means `good` (if any) is an older version. */
  problems: Problem[];
  /** mtime, size and inode of what was read, to skip files that did not change. */
  stamp: string;
}

/**
 * An immutable view of all definitions at one moment. Requests resolve against
 * one snapshot from start to end, so a reload mid-request cannot mix versions.
 */
export class Snapshot {
  readonly loadedAt = new Date();

  constructor(
    readonly generation: number,
    readonly files: ReadonlyMap<string, DefinitionFile>,
    /** Problems not tied to one id's content, e.g. two files claiming the same id. */
    readonly globalProblems: readonly Problem[] = [],
    /** The hosts of the snapshot this one replaces: who keeps a MAC, UUID or address two files claim. */
    private previousHosts?: HostIndex,
  ) {}

  private hostIndex?: HostIndex;

  /** Network-booting hosts, indexed on first use and kept for the snapshot's life. */
  get hosts(): HostIndex {
    if (!this.hostIndex) {
      this.hostIndex = indexHosts(this, this.previousHosts);
      this.previousHosts = undefined; // no chain of old snapshots kept alive
    }
    return this.hostIndex;
  }

  get(id: string): DefinitionFile | undefined {
    return this.files.get(id);
  }

  problems(): Problem[] {
    return [...this.globalProblems, ...[...this.files.values()].flatMap((file) => file.problems), ...this.hosts.problems];
  }

  /** Build types that have a defaults file. */
  types(): string[] {
    return [...this.files.values()].flatMap((file) => (file.entry.kind === 'type-defaults' ? [file.entry.type] : [])).sort();
  }

  builds(): { type: string; name: string; file: DefinitionFile }[] {
    return [...this.files.values()]
      .flatMap((file) => (file.entry.kind === 'build' ? [{ type: file.entry.type, name: file.entry.name, file }] : []))
      .sort((a, b) => `${a.type}/${a.name}`.localeCompare(`${b.type}/${b.name}`));
  }

  osIds(): string[] {
    return [...this.files.values()].flatMap((file) => (file.entry.kind === 'packer-os' ? [file.entry.os] : [])).sort();
  }
}

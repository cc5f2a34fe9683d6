import { LineCounter, parseDocument, isMap, isPair, isScalar, type Node } from 'yaml';
import type { Origin, Problem } from '../errors.js';

export type Values = Record<string, unknown>;
/** Dotted key path (`packer_site.lang`, `disk.size`) to the file and line that set it. */
export type Origins = Map<string, Origin>;

export interface ParsedSource {
  values: Values;
  origins: Origins;
}

export type ParseResult = { ok: true; source: ParsedSource } | { ok: false; problems: Problem[] };

/**
 * Parses one YAML (or JSON, which is YAML) definition file into plain values
 * plus the line of every key, so that merge and `explain` can name file:line.
 */
export function parseYamlSource(file: string, text: string): ParseResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const lineAt = (offset: number | undefined): number => (offset === undefined ? 0 : lineCounter.linePos(offset).line);
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => ({ file, line: lineAt(error.pos[0]), severity: 'error', message: firstLine(error.message) })),
    };
  }
  if (doc.contents === null) return { ok: true, source: { values: {}, origins: new Map() } };
  if (!isMap(doc.contents)) {
    return { ok: false, problems: [{ file, line: lineAt(doc.contents.range?.[0]), severity: 'error', message: 'expected a mapping of key: value at the top level' }] };
  }
  const origins: Origins = new Map();
  collectOrigins(doc.contents, '', file, lineAt, origins);
  const values = doc.toJS({ maxAliasCount: 100 }) as Values;
  return { ok: true, source: { values, origins } };
}

function collectOrigins(node: Node, prefix: string, file: string, lineAt: (offset: number | undefined) => number, origins: Origins): void {
  if (!isMap(node)) return;
  for (const pair of node.items) {
    if (!isPair(pair) || !isScalar(pair.key)) continue;
    const path = prefix + String(pair.key.value);
    origins.set(path, { file, line: lineAt(pair.key.range?.[0]) });
    if (pair.value && isMap(pair.value)) collectOrigins(pair.value as Node, `${path}.`, file, lineAt, origins);
  }
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
}

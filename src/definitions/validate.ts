import { distance } from 'fastest-levenshtein';
import type { Problem } from '../errors.js';
import { buildVarsSchema, knownKeys } from './schema.js';
import type { ParsedSource } from './source.js';

export type DefinitionKind = 'defaults' | 'type-defaults' | 'build';

export type ValidationResult = { ok: true; source: ParsedSource; warnings: Problem[] } | { ok: false; problems: Problem[] };

/**
 * Validates one layer on its own, so every problem names the file and line
 * that caused it. Known keys are typed (and normalised: 0/1 to booleans, MACs
 * to colon form); unknown keys pass through unless they look like a typo of a
 * known key, which would otherwise silently change what gets installed.
 */
export function validateDefinition(file: string, kind: DefinitionKind, source: ParsedSource): ValidationResult {
  const lineOf = (key: string): number => source.origins.get(key)?.line ?? 0;
  const problems: Problem[] = [];

  const parsed = buildVarsSchema.safeParse(source.values);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('').slice(1);
      problems.push({ file, line: lineOf(String(issue.path[0] ?? '')), severity: 'error', message: `${key}: ${issue.message}` });
    }
  }
  for (const key of Object.keys(source.values)) {
    const suggestion = likelyTypoOf(key);
    if (suggestion) {
      problems.push({ file, line: lineOf(key), severity: 'error', message: `unknown key '${key}': did you mean '${suggestion}'? (rename it; a key this close to a known one is refused as a likely typo)` });
    }
  }
  if (kind !== 'type-defaults' && 'strict' in source.values) {
    problems.push({ file, line: lineOf('strict'), severity: 'error', message: "'strict' belongs in a type's defaults file (builds/<type>/defaults.yaml)" });
  }
  if (problems.length > 0) return { ok: false, problems: problems.sort((a, b) => a.line - b.line) };
  return { ok: true, source: { values: parsed.data as Record<string, unknown>, origins: source.origins }, warnings: [] };
}

/**
 * The known key an unknown key is probably a misspelling of: within two edits,
 * and not a deliberate extension of it (`ipaddr6`, `devices` are left alone).
 */
export function likelyTypoOf(key: string): string | undefined {
  if (knownKeys.includes(key) || key.length < 3) return undefined;
  let best: { key: string; distance: number } | undefined;
  for (const known of knownKeys) {
    if (key.startsWith(known) || known.startsWith(key)) continue;
    const d = distance(key.toLowerCase(), known);
    if (d <= 2 && d < Math.ceil(known.length / 2) && (!best || d < best.distance)) best = { key: known, distance: d };
  }
  return best?.key;
}

import { parse as parseHcl } from '@cdktf/hcl2json';
import type { Problem } from '../errors.js';
import { parseYamlSource, type ParseResult, type Origins } from './source.js';

/**
 * Packer variable files: legacy JSON var-files (parsed as YAML so values keep
 * their lines) and HCL2 `*.pkrvars.hcl`, whose parser reports file:line errors
 * but no value positions, so lines are found by the assignment's own line.
 */
export async function parsePackerVarFile(file: string, text: string): Promise<ParseResult> {
  if (!file.endsWith('.pkrvars.hcl')) return parseYamlSource(file, text);
  let values: Record<string, unknown>;
  try {
    values = (await parseHcl(file, text)) as Record<string, unknown>;
  } catch (error) {
    return { ok: false, problems: [hclProblem(file, error)] };
  }
  const origins: Origins = new Map();
  const lines = text.split('\n');
  for (const key of Object.keys(values)) {
    const index = lines.findIndex((line) => new RegExp(`^\\s*${escapeRegExp(key)}\\s*=`).test(line));
    origins.set(key, { file, line: index + 1 });
  }
  return { ok: true, source: { values, origins } };
}

function hclProblem(file: string, error: unknown): Problem {
  const message = error instanceof Error ? error.message : String(error);
  // hcl2json says: "parse config: [site.pkrvars.hcl:2,15-3,1: Invalid expression; ...]"
  const match = /:(\d+),\d+(?:-\d+,\d+)?: ([^\]]+)/.exec(message);
  return { file, line: match ? Number(match[1]) : 0, severity: 'error', message: match ? match[2]!.trim() : message };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

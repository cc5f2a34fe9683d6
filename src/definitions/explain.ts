import { SECRET_KEY_PATTERN } from '../log.js';
import type { ResolvedBuild } from './resolve.js';

export interface ExplainedValue {
  key: string;
  value: unknown;
  /** `file:line`, or what derived the value (`request os=...`). */
  source: string;
}

/** Every variable a build's templates see, its value and where it was set; secrets redacted. */
export function explainBuild(resolved: ResolvedBuild): ExplainedValue[] {
  const rows: ExplainedValue[] = [];
  const add = (prefix: string, values: Record<string, unknown>): void => {
    for (const [key, value] of Object.entries(values)) {
      const path = prefix + key;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        add(`${path}.`, value as Record<string, unknown>);
        continue;
      }
      const origin = resolved.origins.get(path) ?? resolved.origins.get(path.split('.').slice(0, 2).join('.'));
      const source = origin ? (origin.line > 0 ? `${origin.file}:${origin.line}` : origin.file) : 'unknown';
      rows.push({ key: path, value: SECRET_KEY_PATTERN.test(key) ? '<redacted>' : value, source });
    }
  };
  add('', resolved.vars);
  add('packer_site.', resolved.packerSite);
  add('packer_os.', resolved.packerOs);
  return rows;
}

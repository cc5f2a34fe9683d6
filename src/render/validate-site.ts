import { formatProblem, isRequestError, type Problem } from '../errors.js';
import { resolveBuild } from '../definitions/resolve.js';
import type { Snapshot } from '../definitions/snapshot.js';
import { renderKickstart } from './kickstart.js';
import type { TemplateEngine } from './templates.js';

export interface SiteCheck {
  /** What was rendered, e.g. `virtual/docker for CentOS-7.6.1810`. */
  checked: string[];
  problems: Problem[];
}

/**
 * Everything `kickstand validate` checks: every definition file parses and
 * validates, and every build renders for every OS file (or its own `os`).
 */
export function validateSite(snapshot: Snapshot, engine: TemplateEngine): SiteCheck {
  const problems: Problem[] = [...snapshot.problems()];
  const checked: string[] = [];
  const osIds = snapshot.osIds();
  const seen = new Set(problems.map(formatProblem));
  /** A broken shared file fails every build: report each problem once, with the first build it broke. */
  const report = (problem: Problem, label: string): void => {
    const key = formatProblem(problem);
    if (!seen.has(key)) {
      seen.add(key);
      problems.push({ ...problem, message: `${problem.message} (rendering ${label})` });
    }
  };
  for (const { type, name, file } of snapshot.builds()) {
    if (!file.good) continue; // already reported as a definition problem
    const ownOs = typeof file.good.values.os === 'string' ? [file.good.values.os] : [];
    const targets = ownOs.length > 0 ? ownOs : osIds.length > 0 ? osIds : [undefined];
    for (const os of targets) {
      const label = `${type}/${name}${os ? ` for ${os}` : ''}`;
      try {
        const resolved = resolveBuild(snapshot, { type, name, os });
        const query = `build=${type}/${name}${os ? `&os=${os}` : ''}`;
        renderKickstart(engine, resolved, { url: `http://kickstand.invalid/ks?${query}`, clientIp: '192.0.2.1' });
        checked.push(label);
      } catch (error) {
        if (!isRequestError(error)) throw error;
        const located = 'problems' in error && error.problems.length > 0 ? error.problems : [{ file: file.file, line: 0, severity: 'error' as const, message: error.message }];
        for (const problem of located) report(problem, label);
      }
    }
  }
  return { checked, problems };
}

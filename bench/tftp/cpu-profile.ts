// Summarizes a V8 .cpuprofile (node --cpu-prof) as its top functions by self time, so a profile
// of the server under load reads as "where the time goes" without opening DevTools.
// Also runnable alone: node --import tsx bench/tftp/cpu-profile.ts <file.cpuprofile> [top]
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  name: string;
  where: string;
  ms: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  top: SelfTime[];
}

/** Where a frame lives, relative to the repository when it is one of ours. */
function shortLocation(url: string, lineNumber: number): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '').replace(/^.*\/bench\/tftp\/\.build\//, '');
  return `${path}:${lineNumber + 1}`;
}

export function summarizeProfile(profile: CpuProfile, top = 20): ProfileSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<string, SelfTime>();
  let totalUs = 0;
  let idleUs = 0;
  // timeDeltas[i + 1] is the time between sample i and the next: the time sample i stood for.
  for (let i = 0; i < profile.samples.length; i++) {
    const node = nodes.get(profile.samples[i] as number);
    const us = profile.timeDeltas[i + 1] ?? 0;
    if (!node) continue;
    totalUs += us;
    const name = node.callFrame.functionName || '(anonymous)';
    if (name === '(idle)') idleUs += us;
    const where = shortLocation(node.callFrame.url, node.callFrame.lineNumber);
    const key = `${name}\0${where}`;
    const entry = selfUs.get(key) ?? { name, where, ms: 0 };
    entry.ms += us;
    selfUs.set(key, entry);
  }
  const ranked = [...selfUs.values()]
    .map((entry) => ({ ...entry, ms: entry.ms / 1000 }))
    .sort((a, b) => b.ms - a.ms)
    .slice(0, top);
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, top: ranked };
}

export function formatSummary(title: string, summary: ProfileSummary): string {
  const busyMs = summary.totalMs - summary.idleMs;
  const lines = [`${title}: ${summary.totalMs.toFixed(0)} ms sampled, ${busyMs.toFixed(0)} ms busy (${((busyMs / Math.max(summary.totalMs, 1)) * 100).toFixed(0)}%)`];
  lines.push('   self ms  % busy  function  (location)');
  for (const entry of summary.top) {
    if (entry.name === '(idle)') continue;
    const share = busyMs > 0 ? (entry.ms / busyMs) * 100 : 0;
    lines.push(`${entry.ms.toFixed(0).padStart(10)}  ${share.toFixed(1).padStart(5)}%  ${entry.name}${entry.where ? `  (${entry.where})` : ''}`);
  }
  return lines.join('\n');
}

export async function summarizeProfileFile(path: string, top = 20): Promise<ProfileSummary> {
  return summarizeProfile(JSON.parse(await readFile(path, 'utf8')) as CpuProfile, top);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [path, top] = process.argv.slice(2);
  if (!path) {
    process.stderr.write('usage: cpu-profile.ts <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(path, await summarizeProfileFile(path, Number(top ?? 20)))}\n`);
}

import path from 'node:path';

/**
 * What a file under builds/ is, from its path alone. Ids drop the extension:
 * `defaults`, `virtual/defaults`, `virtual/docker`, `packer/site`, `packer/os/CentOS-7.6.1810`.
 */
export type DefinitionEntry =
  | { kind: 'defaults'; id: 'defaults' }
  | { kind: 'type-defaults'; id: string; type: string }
  | { kind: 'build'; id: string; type: string; name: string }
  | { kind: 'packer-site'; id: 'packer/site' }
  | { kind: 'packer-os'; id: string; os: string };

/** Build types, build names and OS ids: no dots at the start, nothing that can climb out of a folder. */
export const namePattern = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

const definitionExtension = /\.(ya?ml|json)$/;
const packerExtension = /\.(json|pkrvars\.hcl)$/;

/** Classifies a path relative to builds/ (forward slashes); undefined for files that are not definitions. */
export function classifyDefinitionPath(relative: string): DefinitionEntry | undefined {
  const parts = relative.split('/');
  if (parts.some((part) => part.startsWith('.'))) return undefined;
  if (parts[0] === 'packer') {
    const match = packerExtension.exec(relative);
    if (!match) return undefined;
    const stem = relative.slice(0, -match[0].length);
    if (parts.length === 2 && stem === 'packer/site') return { kind: 'packer-site', id: 'packer/site' };
    const os = stem.slice('packer/os/'.length);
    if (parts.length === 3 && parts[1] === 'os' && namePattern.test(os)) return { kind: 'packer-os', id: stem, os };
    return undefined;
  }
  const match = definitionExtension.exec(relative);
  if (!match) return undefined;
  const stem = relative.slice(0, -match[0].length);
  if (parts.length === 1) return stem === 'defaults' ? { kind: 'defaults', id: 'defaults' } : undefined;
  if (parts.length !== 2) return undefined;
  const [type, name] = stem.split('/') as [string, string];
  if (!namePattern.test(type) || !namePattern.test(name)) return undefined;
  if (name === 'defaults') return { kind: 'type-defaults', id: stem, type };
  return { kind: 'build', id: stem, type, name };
}

export function toPosix(relative: string): string {
  return relative.split(path.sep).join('/');
}

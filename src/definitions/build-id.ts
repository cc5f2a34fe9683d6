import { BadRequestError } from '../errors.js';
import { namePattern } from './catalog.js';
import { osIdPattern } from './schema.js';

/**
 * Parses `<type>/<build>` from a request or the command line. Anything that
 * could name a path outside builds/ (`..`, leading or trailing `/`, other
 * characters) is refused before any file is looked at.
 */
export function parseBuildId(value: unknown): { type: string; name: string } {
  if (value === undefined || value === '') throw new BadRequestError('missing build: expected build=<type>/<build>, e.g. build=virtual/aws');
  const parts = typeof value === 'string' ? value.split('/') : [];
  if (parts.length !== 2 || !parts.every((part) => namePattern.test(part))) {
    throw new BadRequestError(`malformed build '${printable(value)}': expected <type>/<build> using only A-Z a-z 0-9 . _ - (no leading dot)`);
  }
  return { type: parts[0]!, name: parts[1]! };
}

/** Parses `<Name>-<version>`; undefined when absent. */
export function parseOsId(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !osIdPattern.test(value)) {
    throw new BadRequestError(`malformed os '${printable(value)}': expected <Name>-<version> using only A-Z a-z 0-9 . _ -, e.g. os=CentOS-7.6.1810`);
  }
  return value;
}

/** Echoes user input safely in a one-line message. */
function printable(value: unknown): string {
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

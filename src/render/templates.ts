import fs from 'node:fs';
import path from 'node:path';
import nunjucks from 'nunjucks';
import { required, sha512crypt } from './filters.js';

/**
 * The one Nunjucks environment: templates from views/, compiled once and
 * cached until `reset()` (called when views/ changes). `throwOnUndefined`
 * makes a missing value fail the whole render, so nothing partial is served.
 */
export class TemplateEngine {
  private env: nunjucks.Environment;

  constructor(readonly viewsDir: string) {
    this.env = this.createEnvironment();
  }

  reset(): void {
    this.env = this.createEnvironment();
  }

  /** Renders a template; a failure becomes a TemplateError naming views/<file>:<line>. */
  render(template: string, context: object): string {
    try {
      return this.env.render(template, context);
    } catch (error) {
      throw this.describe(error);
    }
  }

  private createEnvironment(): nunjucks.Environment {
    const env = new nunjucks.Environment(new nunjucks.FileSystemLoader(this.viewsDir, { noCache: false }), {
      autoescape: false,
      throwOnUndefined: true,
      trimBlocks: true,
      lstripBlocks: true,
    });
    env.addFilter('sha512crypt', sha512crypt);
    env.addFilter('required', required);
    return env;
  }

  /**
   * Nunjucks nests "(path) [Line n, Column c]" once per include level; the
   * innermost (last) one is where it broke. Errors thrown by filters carry no
   * line, so it is found from the filter call in the template source.
   */
  private describe(error: unknown): TemplateError {
    const message = error instanceof Error ? error.message : String(error);
    const notFound = /template not found: (\S+)/.exec(message);
    if (notFound) return new TemplateError(`views/${notFound[1]}`, 0, 'template not found');
    const markers = [...message.matchAll(/\(([^()\n]+\.njk)\)(?: \[Line (\d+), Column (\d+)\])?/g)];
    const last = markers.pop();
    if (!last) return new TemplateError('views', 0, cleanReason(message));
    const file = last[1]!;
    const reason = cleanReason(message.slice(last.index! + last[0].length));
    if (last[2] !== undefined) {
      const line = Number(last[2]);
      const detail = reason === 'attempted to output null or undefined value' ? `${expressionAt(file, line, Number(last[3])) ?? 'a value'} is undefined` : reason;
      return new TemplateError(this.relative(file), line, detail);
    }
    const filterCall = requiredFilterCall(reason);
    return new TemplateError(this.relative(file), filterCall ? lineContaining(file, filterCall) : 0, reason);
  }

  private relative(file: string): string {
    return path.posix.join('views', path.relative(this.viewsDir, file).split(path.sep).join('/'));
  }
}

export class TemplateError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${detail}`);
  }
}

/** The `{{ ... }}` expression at a 1-based column of a template line, to name the missing value. */
function expressionAt(file: string, line: number, column: number): string | undefined {
  let source: string;
  try {
    source = fs.readFileSync(file, 'utf8').split('\n')[line - 1] ?? '';
  } catch {
    return undefined;
  }
  let found: string | undefined;
  for (const match of source.matchAll(/\{\{-?\s*(.*?)\s*-?\}\}/g)) {
    if (match.index! <= column - 1) found = match[1];
  }
  return found;
}

function cleanReason(text: string): string {
  return text.replace(/Template render error:/g, '').trim().replace(/^Error: /, '').trim();
}

/** `ipaddr is empty; ...` (from the `required` filter) -> a pattern of the call naming ipaddr. */
function requiredFilterCall(reason: string): RegExp | undefined {
  const name = /^(\S+) is empty;/.exec(reason)?.[1];
  return name ? new RegExp(`required\\(\\s*["']${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}["']`) : undefined;
}

function lineContaining(file: string, pattern: RegExp): number {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').findIndex((line) => pattern.test(line)) + 1;
  } catch {
    return 0;
  }
}

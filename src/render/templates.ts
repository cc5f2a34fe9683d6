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

  /** Nunjucks nests "(path) [Line n, Column c]" per include; the innermost one is where it broke. */
  private describe(error: unknown): TemplateError {
    const message = error instanceof Error ? error.message : String(error);
    const located = [...message.matchAll(/\(([^()\n]+)\) \[Line (\d+), Column (\d+)\]\s*\n\s*([\s\S]*)$/g)].pop();
    if (!located) {
      const notFound = /template not found: (\S+)/.exec(message);
      if (notFound) return new TemplateError(`views/${notFound[1]}`, 0, 'template not found');
      const file = /\(([^()\n]+\.njk)\)/.exec(message)?.[1];
      return new TemplateError(file ? this.relative(file) : 'views', 0, lastLine(message));
    }
    const [, file, line, column, reason] = located as unknown as [string, string, string, string, string];
    const text = reason.trim().replace(/^Error: /, '');
    const lineNumber = Number(line);
    const detail = text === 'attempted to output null or undefined value' ? `${expressionAt(file, lineNumber, Number(column)) ?? 'a value'} is undefined` : text;
    return new TemplateError(this.relative(file), lineNumber, detail);
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

function lastLine(message: string): string {
  return message.trim().split('\n').pop()!.trim().replace(/^Error: /, '');
}

import { UnprocessableError } from '../errors.js';
import type { ResolvedBuild } from '../definitions/resolve.js';
import { TemplateError, type TemplateEngine } from './templates.js';

export interface RequestFacts {
  /** The full URL of this very request; the metal bootline prints it as inst.ks=. */
  url: string;
  clientIp: string;
}

/** What templates see: merged variables at top level plus the documented names. */
export function kickstartContext(resolved: ResolvedBuild, request: RequestFacts): Record<string, unknown> {
  return {
    ...resolved.vars,
    build: resolved.build,
    comments: resolved.comments,
    packer_site: resolved.packerSite,
    packer_os: resolved.packerOs,
    request: { url: request.url, client_ip: request.clientIp },
    server: { url: new URL(request.url).origin + serverPrefix(request.url) },
  };
}

/** Renders views/ks.njk for a resolved build; a template failure is a 422 naming views/<file>:<line>. */
export function renderKickstart(engine: TemplateEngine, resolved: ResolvedBuild, request: RequestFacts): string {
  return renderWithContext(engine, 'ks.njk', kickstartContext(resolved, request), resolved.build.id);
}

/** Renders any template; a failure becomes a 422 "cannot render <what>: views/<file>:<line>: ...". */
export function renderWithContext(engine: TemplateEngine, template: string, context: object, what: string): string {
  try {
    return engine.render(template, context);
  } catch (error) {
    if (error instanceof TemplateError) {
      throw new UnprocessableError(`cannot render ${what}: ${error.message}`, [{ file: error.file, line: error.line, severity: 'error', message: error.detail }]);
    }
    throw error;
  }
}

/** The path before /ks or /ks.php: what a reverse proxy's X-Forwarded-Prefix added. */
function serverPrefix(url: string): string {
  const pathname = new URL(url).pathname;
  return pathname.replace(/\/ks(\.php)?$/, '');
}

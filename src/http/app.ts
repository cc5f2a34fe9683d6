import { randomUUID } from 'node:crypto';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';
import { pinoHttp } from 'pino-http';
import type { DefinitionStore } from '../definitions/store.js';
import { isRequestError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TemplateEngine } from '../render/templates.js';
import type { BootService } from '../boot/service.js';
import { apiRoutes } from './api-routes.js';
import { bootRoutes } from './boot-routes.js';
import { kickstartHandler } from './kickstart-route.js';
import { staticFiles } from './static-files.js';

export interface AppDependencies {
  root: string;
  store: DefinitionStore;
  engine: TemplateEngine;
  boot: BootService;
  log: Logger;
  /** Lets a remote caller change host state (reinstall); loopback never needs it. */
  apiToken?: string;
}

/**
 * The URL as logged: the value of every `token` parameter redacted, whatever way its name is
 * spelled (`tok%65n` reaches the routes as `token` too). A name that cannot be decoded is redacted.
 */
export function redactTokens(url: string): string {
  const queryStart = url.indexOf('?');
  if (queryStart < 0) return url;
  const pairs = url.slice(queryStart + 1).split('&').map((pair) => {
    const equals = pair.indexOf('=');
    const rawName = equals < 0 ? pair : pair.slice(0, equals);
    let name: string | undefined;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      name = undefined;
    }
    return name === undefined || (name === 'token' && equals >= 0) ? `${rawName}=<redacted>` : pair;
  });
  return `${url.slice(0, queryStart)}?${pairs.join('&')}`;
}

/** The HTTP transport: routes map requests onto the core and its errors onto status codes. */
export function createApp({ root, store, engine, boot, log, apiToken }: AppDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(
    pinoHttp({
      logger: log,
      genReqId: (req, res) => {
        const id = randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customProps: (_req, res) => (res.locals?.build ? { build: res.locals.build } : {}),
      // Only what identifies the request: never headers (Authorization, cookies) or bodies.
      serializers: {
        req: (req: { id: string; method: string; url: string; remoteAddress: string }) => ({ id: req.id, method: req.method, url: redactTokens(req.url), remoteAddress: req.remoteAddress }),
        res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
      },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info'),
    }),
  );

  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.use(apiRoutes(store, boot, apiToken));
  app.use(bootRoutes(boot, path.join(root, 'pxe')));
  const kickstart = kickstartHandler(store, engine, boot);
  app.get(['/ks', '/ks.php'], kickstart);
  app.use(staticFiles(path.join(root, 'http')));

  app.use((req: Request, res: Response) => {
    res.status(404).type('text/plain').send(`not found: ${req.path.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)}\n`);
  });
  app.use((error: unknown, req: Request, res: Response, _next: NextFunction) => {
    if (isRequestError(error)) {
      res.status(error.status).type('text/plain').send(`${error.message}\n`);
      return;
    }
    const status = typeof (error as { status?: unknown })?.status === 'number' ? (error as { status: number }).status : 500;
    if (status >= 400 && status < 500) {
      // Malformed input caught by express itself (bad URL encoding, oversized body).
      res.status(status).type('text/plain').send(`bad request: ${(error as Error).message}\n`);
      return;
    }
    req.log.error({ err: error }, 'unexpected error');
    res.status(500).type('text/plain').send(`internal error (request ${String(req.id)}); see the server log\n`);
  });
  return app;
}

import { timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response, Router } from 'express';
import express from 'express';
import type { BootService } from '../boot/service.js';
import type { DefinitionStore } from '../definitions/store.js';
import { ForbiddenError } from '../errors.js';
import { clientIp } from './request-url.js';

/** JSON for scripts and the dashboard. Changing state needs loopback or the API token. */
export function apiRoutes(store: DefinitionStore, boot: BootService, apiToken: string | undefined): Router {
  const router = express.Router();

  router.get('/api/status', (_req, res) => {
    const snapshot = store.current;
    res.json({
      generation: snapshot.generation,
      loadedAt: snapshot.loadedAt.toISOString(),
      definitionFiles: snapshot.files.size,
      hosts: snapshot.hosts.byId.size,
      problems: snapshot.problems().map(({ file, line, message }) => ({ file, line, message })),
    });
  });
  router.get('/api/hosts', (_req, res) => {
    res.json(boot.statuses());
  });
  router.get('/api/hosts/:name', (req, res) => {
    const host = boot.host(String(req.params.name));
    res.json({ ...boot.status(host), events: boot.state.events(host.id) });
  });
  router.post('/api/hosts/:name/reinstall', requireAdmin(apiToken), (req, res) => {
    const host = boot.reinstall(String(req.params.name), `API from ${clientIp(req)}`);
    res.json(boot.status(host));
  });
  return router;
}

/** Headers a reverse proxy adds: behind one on this machine, every request comes from loopback. */
const FORWARDING_HEADERS = ['x-forwarded-for', 'forwarded', 'x-real-ip', 'x-forwarded-host', 'x-forwarded-proto', 'x-forwarded-prefix'];

/**
 * Reinstalling wipes a machine: only from this machine (not relayed by a proxy), or with
 * `Authorization: Bearer <api token>`.
 */
function requireAdmin(apiToken: string | undefined) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const ip = clientIp(req);
    const proxied = FORWARDING_HEADERS.some((name) => req.get(name) !== undefined);
    if ((ip === '127.0.0.1' || ip === '::1') && !proxied) return next();
    const given = Buffer.from(req.get('authorization')?.replace(/^Bearer\s+/i, '') ?? '');
    if (apiToken && given.length === Buffer.byteLength(apiToken) && timingSafeEqual(given, Buffer.from(apiToken))) return next();
    throw new ForbiddenError(`refused from ${ip}${proxied ? ' (through a proxy)' : ''}: changing host state needs loopback or the API token (serve --api-token)`);
  };
}

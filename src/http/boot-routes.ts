import type { Request, Response, Router } from 'express';
import express from 'express';
import type { BootService } from '../boot/service.js';
import { parseBuildId } from '../definitions/build-id.js';
import { BadRequestError } from '../errors.js';
import { BOOT_LOADERS } from '../pxe/loaders.js';
import { clientIp, externalServerUrl } from './request-url.js';

const macPattern = /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/;
const uuidPattern = /^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$/;

/** iPXE scripts, boot loaders for UEFI HTTP boot, and the "I am built" callback: thin over BootService. */
export function bootRoutes(boot: BootService, pxeDir: string): Router {
  const router = express.Router();
  // UEFI HTTP boot fetches its loader by URL (the DHCP policy hands out <server>/ipxe.efi):
  // only the boot loaders kickstand knows are served from pxe/, never the rest of it.
  const loaderNames = new Set(BOOT_LOADERS.map((loader) => loader.name));
  router.get('/:file', (req, res, next) => {
    if (!loaderNames.has(String(req.params.file))) return next();
    res.sendFile(String(req.params.file), { root: pxeDir, dotfiles: 'deny' }, (error) => {
      if (error && !res.headersSent) next();
    });
  });
  const ipxe = (res: Response, script: string): void => {
    res.type('text/plain').set('Cache-Control', 'no-store').send(script);
  };

  router.get('/boot.ipxe', (req, res) => ipxe(res, boot.bootIpxe(externalServerUrl(req))));

  router.get('/ipxe', (req, res) => {
    const mac = optional(req.query.mac, macPattern, 'mac', 'aa:bb:cc:dd:ee:ff');
    const uuid = optional(req.query.uuid, uuidPattern, 'uuid', 'a UUID');
    const arch = optional(req.query.arch, /^[a-z0-9_]{1,16}$/i, 'arch', "iPXE's ${buildarch}, e.g. x86_64");
    if (!mac && !uuid) throw new BadRequestError('missing mac or uuid: expected /ipxe?mac=${netX/mac}&uuid=${uuid}');
    res.locals.build = mac ?? uuid;
    ipxe(res, boot.ipxeScript({ mac, uuid, arch }, externalServerUrl(req), clientIp(req)));
  });

  // GET too: a bare `curl URL` in %post is the common case.
  const built = (req: Request, res: Response): void => {
    const { type, name } = parseBuildId(req.query.build);
    const token = typeof req.query.token === 'string' ? req.query.token : req.get('authorization')?.replace(/^Bearer\s+/i, '');
    boot.markBuilt(`${type}/${name}`, clientIp(req), token);
    res.type('text/plain').send(`${type}/${name} marked built\n`);
  };
  router.post('/built', built);
  router.get('/built', built);
  return router;
}

/** iPXE sends an empty value (or the literal `${uuid}` setting name when unset): both mean absent. */
function optional(value: unknown, pattern: RegExp, name: string, example: string): string | undefined {
  if (value === undefined || value === '' || (typeof value === 'string' && value.startsWith('${'))) return undefined;
  if (typeof value !== 'string' || !pattern.test(value)) throw new BadRequestError(`malformed ${name}: expected ${example}`);
  return value.toLowerCase();
}

import type { Request, Response } from 'express';
import { parseBuildId, parseOsId } from '../definitions/build-id.js';
import { resolveBuild } from '../definitions/resolve.js';
import type { BootService } from '../boot/service.js';
import type { DefinitionStore } from '../definitions/store.js';
import { renderKickstart } from '../render/kickstart.js';
import type { TemplateEngine } from '../render/templates.js';
import { clientIp, externalRequestUrl } from './request-url.js';

/** GET /ks and GET /ks.php: the kickstart for ?build=<type>/<build>&os=<Name>-<version>. */
export function kickstartHandler(store: DefinitionStore, engine: TemplateEngine, boot: BootService) {
  return (req: Request, res: Response): void => {
    const { type, name } = parseBuildId(req.query.build);
    const os = parseOsId(req.query.os);
    const resolved = resolveBuild(store.current, { type, name, os });
    const url = externalRequestUrl(req);
    const text = renderKickstart(engine, resolved, { url, clientIp: clientIp(req) });
    res.locals.build = resolved.build.id;
    boot.kickstartServed(resolved.build.id, clientIp(req), url);
    res.type('text/plain').set('Cache-Control', 'no-store').send(text);
  };
}

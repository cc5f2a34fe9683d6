import fs from 'node:fs';
import path from 'node:path';
import express, { type NextFunction, type Request, type Response } from 'express';

/**
 * Serves http/ at / (Packer's http_directory equivalent). express.static
 * already refuses `..` and dotfiles; on top of that the real path of every
 * file must stay inside http/, so a symlink cannot publish builds/ (which
 * holds the root password) or anything else on the machine.
 */
export function staticFiles(httpDir: string) {
  const serve = express.static(httpDir, { dotfiles: 'ignore', index: false, redirect: false, fallthrough: true });
  let realRoot: string | undefined;
  return (req: Request, res: Response, next: NextFunction): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    let relative: string;
    try {
      relative = decodeURIComponent(req.path);
    } catch {
      return next();
    }
    try {
      realRoot ??= fs.realpathSync(httpDir);
      const real = fs.realpathSync(path.join(httpDir, relative));
      if (real !== realRoot && !real.startsWith(realRoot + path.sep)) return next();
    } catch {
      return next(); // missing file: the 404 handler answers
    }
    serve(req, res, next);
  };
}

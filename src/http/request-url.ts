import type { Request } from 'express';
import { BadRequestError } from '../errors.js';

/**
 * The full URL of this request as the client (or the reverse proxy in front of
 * us) sees it: X-Forwarded-Proto, X-Forwarded-Host and X-Forwarded-Prefix are
 * honoured, as ks.php honoured https, Host and X-Forwarded-Prefix.
 */
export function externalRequestUrl(req: Request): string {
  return `${externalServerUrl(req)}${req.originalUrl}`;
}

/** The server's own base URL as this client reaches it (scheme, host and proxy prefix): what boot scripts link to. */
export function externalServerUrl(req: Request): string {
  const proto = firstValue(req.get('x-forwarded-proto')) ?? (req.socket && 'encrypted' in req.socket ? 'https' : 'http');
  const host = firstValue(req.get('x-forwarded-host')) ?? req.get('host') ?? 'localhost';
  const prefix = (firstValue(req.get('x-forwarded-prefix')) ?? '').replace(/\/+$/, '');
  if (proto !== 'http' && proto !== 'https') throw new BadRequestError(`unsupported X-Forwarded-Proto '${proto.slice(0, 20)}'`);
  if (!/^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/.test(host)) throw new BadRequestError('malformed Host or X-Forwarded-Host header');
  if (prefix !== '' && !/^(\/[A-Za-z0-9._~-]+)+$/.test(prefix)) throw new BadRequestError('malformed X-Forwarded-Prefix header');
  return `${proto}://${host}${prefix}`;
}

function firstValue(header: string | undefined): string | undefined {
  const value = header?.split(',')[0]?.trim();
  return value ? value : undefined;
}

export function clientIp(req: Request): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

import path from 'node:path';
import { z } from 'zod';
import { PoolConfigSchema } from './dhcp/pool.js';

const port = z.coerce.number().int().min(0).max(65535);
const ipv4 = z.ipv4({ error: 'expected a dotted IPv4 address' });

/** `--dhcp-pool 192.168.50.100-192.168.50.199` */
const poolRange = z
  .string()
  .regex(/^\d+\.\d+\.\d+\.\d+-\d+\.\d+\.\d+\.\d+$/, 'expected <first>-<last>, e.g. 192.168.50.100-192.168.50.199')
  .transform((value) => {
    const [start, end] = value.split('-') as [string, string];
    return { start, end };
  });

/** Options of `kickstand serve`, validated once; everything else receives this type. */
export const serveConfigSchema = z
  .object({
    root: z.string().transform((value) => path.resolve(value)),
    dataDir: z.string().transform((value) => path.resolve(value)),
    httpPort: port,
    host: z.string().optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** The address machines reach kickstand at: DHCP's next-server, and the host of every URL handed out. */
    serverIp: ipv4.optional(),
    /** Base URL given to machines, when it differs from http://<server-ip>:<http-port> (a reverse proxy). */
    serverUrl: z.url().optional(),
    tftpPort: port,
    dhcp: z.enum(['off', 'proxy', 'full']).default('off'),
    dhcpInterface: z.string().optional(),
    dhcpPort: port.default(67),
    dhcpPxePort: port.default(4011),
    dhcpClientPort: port.default(68),
    dhcpPool: poolRange.optional(),
    dhcpNetmask: ipv4.optional(),
    dhcpRouter: ipv4.optional(),
    dhcpDns: z
      .string()
      .transform((value) => value.split(',').map((item) => item.trim()).filter(Boolean))
      .pipe(z.array(ipv4))
      .optional(),
    dhcpDomain: z.string().optional(),
    dhcpLeaseTime: z.coerce.number().int().min(60).max(365 * 24 * 3600).default(3600),
    onlyKnownMacs: z.boolean().default(false),
    apiToken: z.string().min(16, 'use at least 16 characters').optional(),
  })
  .superRefine((config, ctx) => {
    if (config.dhcp !== 'off' && !config.serverIp) ctx.addIssue({ code: 'custom', path: ['serverIp'], message: `--dhcp ${config.dhcp} needs --server-ip (the address machines reach kickstand at)` });
    if (config.dhcpPool && config.dhcp !== 'full') ctx.addIssue({ code: 'custom', path: ['dhcpPool'], message: 'an address pool needs --dhcp full' });
    if (config.dhcpPool && !config.dhcpNetmask) ctx.addIssue({ code: 'custom', path: ['dhcpNetmask'], message: '--dhcp-pool needs --dhcp-netmask' });
    if (config.dhcpPool && config.dhcpNetmask) {
      // The pool's own rules (order, one subnet, size, router inside), reported on the flag at fault.
      const pool = PoolConfigSchema.safeParse({ ...config.dhcpPool, subnetMask: config.dhcpNetmask, router: config.dhcpRouter });
      const flagOf: Record<string, string> = { start: 'dhcpPool', end: 'dhcpPool', subnetMask: 'dhcpNetmask', router: 'dhcpRouter' };
      for (const issue of pool.error?.issues ?? []) {
        ctx.addIssue({ code: 'custom', path: [flagOf[String(issue.path[0])] ?? 'dhcpPool'], message: issue.message });
      }
    }
  });

export type ServeConfig = z.output<typeof serveConfigSchema>;
export type ServeConfigInput = z.input<typeof serveConfigSchema>;

/** Where kickstand's state lives: build state, events, leases (one SQLite file) and the host-token key. */
export function stateFile(dataDir: string): string {
  return path.join(dataDir, 'kickstand.db');
}

/** The URL machines use to reach the HTTP server. */
export function publicServerUrl(config: ServeConfig, boundPort: number): string | undefined {
  if (config.serverUrl) return config.serverUrl.replace(/\/+$/, '');
  return config.serverIp ? serverUrlAt(config.serverIp, boundPort) : undefined;
}

/** http://<address>[:port] for a machine to reach the HTTP server at one of its addresses (v4-mapped written as IPv4). */
export function serverUrlAt(address: string, port: number): string {
  const bare = address.replace(/^::ffff:(?=\d+\.)/, '');
  return `http://${bare.includes(':') ? `[${bare}]` : bare}${port === 80 ? '' : `:${port}`}`;
}

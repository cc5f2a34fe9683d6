// The optional dynamic address pool of full mode, as configured by the admin.

import { z } from 'zod';
import { contains, intToIp, ipToInt, isContiguousMask, isHostAddress, type Subnet } from './ipv4.js';

/** Bounds every scan of the pool: allocation never loops over more than this many addresses. */
export const MAX_POOL_SIZE = 65536;

export const PoolConfigSchema = z
  .object({
    start: z.ipv4(),
    end: z.ipv4(),
    subnetMask: z.ipv4(),
    router: z.ipv4().optional(),
    dns: z.array(z.ipv4()).default([]),
    domain: z.string().min(1).optional(),
    leaseSeconds: z.number().int().min(60).max(365 * 24 * 3600).default(3600),
  })
  .superRefine((pool, ctx) => {
    if (!isContiguousMask(pool.subnetMask)) {
      ctx.addIssue({ code: 'custom', path: ['subnetMask'], message: `${pool.subnetMask} is not a valid subnet mask` });
      return;
    }
    const first = ipToInt(pool.start);
    const last = ipToInt(pool.end);
    if (first > last) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `pool end ${pool.end} is before its start ${pool.start}` });
    }
    const subnet = { address: pool.start, mask: pool.subnetMask };
    if (!contains(subnet, pool.end)) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `${pool.start} and ${pool.end} are not in one ${pool.subnetMask} subnet` });
    }
    if (last - first + 1 > MAX_POOL_SIZE) {
      ctx.addIssue({ code: 'custom', path: ['end'], message: `pool holds ${last - first + 1} addresses; at most ${MAX_POOL_SIZE}` });
    }
    if (pool.router !== undefined && !contains(subnet, pool.router)) {
      ctx.addIssue({ code: 'custom', path: ['router'], message: `router ${pool.router} is outside the pool's subnet` });
    }
  });
export type PoolConfig = z.infer<typeof PoolConfigSchema>;

export function poolSubnet(pool: PoolConfig): Subnet {
  return { address: pool.start, mask: pool.subnetMask };
}

/** In the configured range, and a usable host address (not network, broadcast or router). */
export function poolHolds(pool: PoolConfig, ip: string): boolean {
  const v = ipToInt(ip);
  return (
    v >= ipToInt(pool.start) &&
    v <= ipToInt(pool.end) &&
    isHostAddress(poolSubnet(pool), ip) &&
    ip !== pool.router
  );
}

/** Pool addresses in ascending order; finite by the schema's MAX_POOL_SIZE. */
export function* poolAddresses(pool: PoolConfig): Generator<string> {
  const last = ipToInt(pool.end);
  for (let v = ipToInt(pool.start); v <= last; v++) {
    const ip = intToIp(v);
    if (poolHolds(pool, ip)) yield ip;
  }
}

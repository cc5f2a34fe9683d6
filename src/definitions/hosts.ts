import { z } from 'zod';
import { isRequestError, type Problem } from '../errors.js';
import { buildVarsSchema } from './schema.js';
import { resolveBuild } from './resolve.js';
import type { Snapshot } from './snapshot.js';

/**
 * A machine that network-boots: any build whose definition names a `mac` or
 * `uuid` (metal hosts). Fields are the merged values after layering, so a
 * type's defaults can set `install` or `loader` for all its hosts.
 */
export const hostRecordSchema = buildVarsSchema
  .pick({ os: true, ipaddr: true, netmask: true, gateway: true, nameserver: true, device: true, fqdn: true, uuid: true, kernel: true, initrd: true })
  .extend({
    /** Build id, `metal/web01`: what /ks, /built and the state database use. */
    id: z.string(),
    /** The build name, `web01`: what people type. */
    name: z.string(),
    type: z.string(),
    file: z.string(),
    macs: z.array(z.string()),
    install: z.enum(['once', 'always', 'never']).default('once'),
    loader: z.enum(['ipxe', 'pxelinux', 'grub']).default('ipxe'),
    kernel_args: z.array(z.string()).default([]),
    hostname: z.string(),
  });
export type HostRecord = z.output<typeof hostRecordSchema>;

export interface HostIndex {
  byId: ReadonlyMap<string, HostRecord>;
  byMac: ReadonlyMap<string, HostRecord>;
  byUuid: ReadonlyMap<string, HostRecord>;
  /** By static `ipaddr`: DHCP reservations, and who may call /built. */
  byIp: ReadonlyMap<string, HostRecord>;
  problems: Problem[];
}

/** Indexes hosts for O(1) lookups by MAC and UUID; a MAC or UUID claimed twice is a problem naming both files. */
export function indexHosts(snapshot: Snapshot): HostIndex {
  const byId = new Map<string, HostRecord>();
  const byMac = new Map<string, HostRecord>();
  const byUuid = new Map<string, HostRecord>();
  const byIp = new Map<string, HostRecord>();
  const problems: Problem[] = [];
  for (const { type, name, file } of snapshot.builds()) {
    const own = file.good?.values;
    if (!own || (own.mac === undefined && own.uuid === undefined)) continue;
    let vars: Record<string, unknown>;
    try {
      vars = resolveBuild(snapshot, { type, name }).vars;
    } catch (error) {
      if (!isRequestError(error)) throw error;
      continue; // the failing shared file is already reported
    }
    const parsed = hostRecordSchema.safeParse({ ...vars, id: `${type}/${name}`, name, type, file: file.file, macs: vars.mac ?? [] });
    if (!parsed.success) {
      problems.push({ file: file.file, line: 0, severity: 'error', message: `host: ${parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}` });
      continue;
    }
    const host = parsed.data;
    byId.set(host.id, host);
    const lineOf = (key: string): number => file.good?.origins.get(key)?.line ?? 0;
    for (const mac of host.macs) {
      const other = byMac.get(mac);
      if (other && other.id !== host.id) {
        problems.push({ file: file.file, line: lineOf('mac'), severity: 'error', message: `MAC ${mac} is also claimed by ${other.file}; a MAC belongs to one host` });
      } else byMac.set(mac, host);
    }
    if (host.ipaddr) {
      const other = byIp.get(host.ipaddr);
      if (other) problems.push({ file: file.file, line: lineOf('ipaddr'), severity: 'error', message: `address ${host.ipaddr} is also given to ${other.file}` });
      else byIp.set(host.ipaddr, host);
    }
    if (host.uuid) {
      const other = byUuid.get(host.uuid);
      if (other) problems.push({ file: file.file, line: lineOf('uuid'), severity: 'error', message: `UUID ${host.uuid} is also claimed by ${other.file}; a UUID belongs to one host` });
      else byUuid.set(host.uuid, host);
    }
  }
  return { byId, byMac, byUuid, byIp, problems };
}

/** A host by build id (`metal/web01`) or, when unambiguous, by bare name (`web01`). */
export function findHost(index: HostIndex, name: string): HostRecord | undefined {
  const exact = index.byId.get(name);
  if (exact) return exact;
  const matches = [...index.byId.values()].filter((host) => host.name === name);
  return matches.length === 1 ? matches[0] : undefined;
}

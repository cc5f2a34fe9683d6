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

type ClaimKind = 'mac' | 'uuid' | 'ipaddr';
interface Claim {
  host: HostRecord;
  line: number;
}

const CLAIM_WORDS: Record<ClaimKind, { what: string; belongs: string }> = {
  mac: { what: 'MAC', belongs: 'a MAC belongs to one host' },
  uuid: { what: 'UUID', belongs: 'a UUID belongs to one host' },
  ipaddr: { what: 'address', belongs: 'an address belongs to one host' },
};

/**
 * Indexes hosts for O(1) lookups by MAC, UUID and address. A key claimed by two files is a
 * problem naming both, and must not move a machine to another definition on a live reload (its
 * next network boot would reinstall it as the other host): the host that had the key in the
 * `previous` index keeps it, and when none did (a fresh start) neither host is answered for it.
 */
export function indexHosts(snapshot: Snapshot, previous?: HostIndex): HostIndex {
  const byId = new Map<string, HostRecord>();
  const claims: Record<ClaimKind, Map<string, Claim[]>> = { mac: new Map(), uuid: new Map(), ipaddr: new Map() };
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
    const claim = (kind: ClaimKind, key: string) => {
      const line = file.good?.origins.get(kind)?.line ?? 0;
      const list = claims[kind].get(key) ?? [];
      if (!list.some((c) => c.host.id === host.id)) claims[kind].set(key, [...list, { host, line }]);
    };
    for (const mac of host.macs) claim('mac', mac);
    if (host.uuid) claim('uuid', host.uuid);
    if (host.ipaddr) claim('ipaddr', host.ipaddr);
  }
  const previousOwner: Record<ClaimKind, ReadonlyMap<string, HostRecord> | undefined> = { mac: previous?.byMac, uuid: previous?.byUuid, ipaddr: previous?.byIp };
  const owners = (kind: ClaimKind): Map<string, HostRecord> => {
    const out = new Map<string, HostRecord>();
    const { what, belongs } = CLAIM_WORDS[kind];
    for (const [key, list] of claims[kind]) {
      if (list.length === 1) {
        out.set(key, list[0]!.host);
        continue;
      }
      const keeper = list.find((c) => c.host.id === previousOwner[kind]?.get(key)?.id);
      if (keeper) out.set(key, keeper.host);
      for (const { host, line } of list) {
        if (host === keeper?.host) continue;
        const others = list.filter((c) => c.host !== host).map((c) => c.host.file).join(' and ');
        const effect = keeper ? `${keeper.host.id} keeps it` : 'no host is answered for it until one file gives it up';
        problems.push({ file: host.file, line, severity: 'error', message: `${what} ${key} is also claimed by ${others}; ${belongs} (${effect})` });
      }
    }
    return out;
  };
  return { byId, byMac: owners('mac'), byUuid: owners('uuid'), byIp: owners('ipaddr'), problems };
}

/** A host by build id (`metal/web01`) or, when unambiguous, by bare name (`web01`). */
export function findHost(index: HostIndex, name: string): HostRecord | undefined {
  const exact = index.byId.get(name);
  if (exact) return exact;
  const matches = [...index.byId.values()].filter((host) => host.name === name);
  return matches.length === 1 ? matches[0] : undefined;
}

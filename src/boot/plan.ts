import { UnprocessableError } from '../errors.js';
import type { HostRecord } from '../definitions/hosts.js';
import type { ResolvedBuild } from '../definitions/resolve.js';
import type { BuildState } from './state.js';

export type BootPlan =
  | {
      action: 'install';
      /** Why the host installs, for the script's comment and the event log. */
      reason: string;
      /** URL for iPXE; a path under pxe/ for pxelinux and GRUB (fetched over TFTP). */
      kernel: string;
      initrd: string;
      kernelArgs: string[];
      kickstartUrl: string;
    }
  | { action: 'local'; reason: string };

/**
 * What a host does when it network-boots: install (kernel, initrd and the
 * kernel arguments that point anaconda at its kickstart) or boot from its
 * local disk. Pure: the caller passes the host's state and resolved build.
 */
export function planBoot(host: HostRecord, state: BuildState, resolved: ResolvedBuild, serverUrl: string): BootPlan {
  if (host.install === 'never') return { action: 'local', reason: 'install: never' };
  if (host.install === 'once' && state === 'built') return { action: 'local', reason: 'built (install: once)' };

  const osName = resolved.vars.os_name;
  const osVersion = resolved.vars.os_version;
  if (typeof osName !== 'string' || typeof osVersion !== 'string') {
    throw new UnprocessableError(`${host.file}: host ${host.id} has no os; set os: <Name>-<version> to network-install it`);
  }
  const os = `${osName}-${osVersion}`;
  const kickstartUrl = `${serverUrl}/ks?build=${host.id}&os=${os}`;
  const { kernel, initrd } = installImages(host, resolved, os);
  return {
    action: 'install',
    reason: host.install === 'always' ? 'install: always' : `state ${state} (install: once)`,
    kernel,
    initrd,
    kernelArgs: [`inst.ks=${kickstartUrl}`, ...staticNetworkArgs(host), ...host.kernel_args],
    kickstartUrl,
  };
}

/**
 * Kernel and initrd: the host's own `kernel`/`initrd`, else the OS file's, else
 * the install tree's pxeboot images (HTTP, for iPXE) or `images/<os>/` under
 * pxe/ (TFTP, for pxelinux and GRUB, which cannot fetch from a port other than 80).
 */
function installImages(host: HostRecord, resolved: ResolvedBuild, os: string): { kernel: string; initrd: string } {
  const fromOs = (key: 'kernel' | 'initrd'): string | undefined => (typeof resolved.packerOs[key] === 'string' ? (resolved.packerOs[key] as string) : undefined);
  if (host.loader !== 'ipxe') {
    return { kernel: host.kernel ?? `images/${os}/vmlinuz`, initrd: host.initrd ?? `images/${os}/initrd.img` };
  }
  const repo = resolved.packerOs.repo_server;
  const pxeboot = typeof repo === 'string' ? `${repo}/${resolved.vars.os_version as string}/os/x86_64/images/pxeboot` : undefined;
  const kernel = host.kernel ?? fromOs('kernel') ?? (pxeboot && `${pxeboot}/vmlinuz`);
  const initrd = host.initrd ?? fromOs('initrd') ?? (pxeboot && `${pxeboot}/initrd.img`);
  if (!kernel || !initrd) {
    throw new UnprocessableError(`${host.file}: no kernel/initrd for ${host.id}: set kernel and initrd, or repo_server in builds/packer/os/${os}.json`);
  }
  return { kernel, initrd };
}

/** dracut's `ip=<ip>::<gateway>:<netmask>:<hostname>:<device>:none` and one `nameserver=` each. */
function staticNetworkArgs(host: HostRecord): string[] {
  if (!host.ipaddr) return [];
  const nameservers = (host.nameserver ?? '').split(',').filter(Boolean);
  return [`ip=${host.ipaddr}::${host.gateway ?? ''}:${host.netmask ?? ''}:${host.hostname}:${host.device ?? ''}:none`, ...nameservers.map((ns) => `nameserver=${ns}`)];
}

import { z } from 'zod';
import ipaddr from 'ipaddr.js';

/** `0/1` are accepted beside booleans: the PHP definitions used them everywhere. */
const flag = z
  .union([z.boolean(), z.literal(0), z.literal(1)], { error: 'expected true/false or 1/0' })
  .transform((value) => value === true || value === 1);

const mebibytes = z.number({ error: 'expected a whole number of MiB' }).int('expected a whole number of MiB').positive('expected a positive size in MiB');

const ipv4 = z.string().refine((value) => ipaddr.IPv4.isValidFourPartDecimal(value), { error: 'expected a dotted IPv4 address such as 192.0.2.10' });
const ipv4OrEmpty = z.union([z.literal(''), ipv4], { error: 'expected a dotted IPv4 address such as 192.0.2.10, or empty' });

const hostnamePattern = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** `<Name>-<version>`, split at the first hyphen, as Packer's os files are named. */
export const osIdPattern = /^[A-Za-z0-9._]+-[A-Za-z0-9._-]+$/;

/** Any common MAC notation (aa:bb:.., aa-bb-.., aabb.ccdd.eeff, bare hex), normalised to lower-case colon form. */
export function normaliseMac(value: string): string | undefined {
  const hex = value.trim().toLowerCase().replace(/[:.-]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  return hex.match(/../g)!.join(':');
}
const mac = z.string().transform((value, ctx) => {
  const normalised = normaliseMac(value);
  if (!normalised) {
    ctx.addIssue({ code: 'custom', message: `'${value}' is not a MAC address (expected e.g. 52:54:00:12:34:56)` });
    return z.NEVER;
  }
  return normalised;
});

const uuidPattern = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** UUIDs that boards without a real one all report (unset SMBIOS fields): they name no machine. */
const PLACEHOLDER_UUIDS = new Set(['00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '03000200-0400-0500-0006-000700080009']);
const isPlaceholderUuid = (uuid: string): boolean => PLACEHOLDER_UUIDS.has(uuid.toLowerCase());

/**
 * The keys kickstand knows. Every key is optional in any one file (files are
 * layers); unknown keys pass through to templates untouched.
 */
export const buildVarsSchema = z
  .object({
    hardware: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'expected a hardware type name such as virtual or metal'),
    fstype: z.enum(['xfs', 'ext4', 'ext3', 'ext2', 'btrfs']),
    lvm: flag,
    boot: flag,
    bootsize: mebibytes,
    efi: flag,
    swap: flag,
    swapsize: z.union([z.literal('recommended'), mebibytes], { error: 'expected "recommended" or a whole number of MiB' }),
    rootsize: z.union([z.literal('max'), mebibytes], { error: 'expected "max" or a whole number of MiB' }),
    fqdn: z.union([z.literal(''), z.string().regex(hostnamePattern)], { error: 'expected a host name such as web01.example.com, or empty' }),
    device: z.string().regex(/^[A-Za-z0-9_.:-]*$/, 'expected a network device name such as eth0, a MAC, or empty'),
    ipaddr: ipv4OrEmpty,
    netmask: ipv4OrEmpty,
    gateway: ipv4OrEmpty,
    /** A comma separated list (the PHP form) or a YAML list; templates always see the comma form. */
    nameserver: z
      .union([z.literal(''), z.string().regex(/^\s*\d[\d.]*(\s*,\s*\d[\d.]*)*\s*$/), z.array(ipv4)], {
        error: 'expected a comma separated list or a YAML list of IPv4 addresses',
      })
      .transform((value) => (Array.isArray(value) ? value.join(',') : value.replace(/\s+/g, ''))),
    os: z.string().regex(osIdPattern, 'expected <Name>-<version>, e.g. CentOS-7.6.1810'),
    /** One MAC or a list; always a list after parsing. */
    mac: z.preprocess((value) => (Array.isArray(value) ? value : [value]), z.array(mac).nonempty('expected at least one MAC address')),
    uuid: z
      .string()
      .regex(uuidPattern, 'expected a UUID such as 4c4c4544-0042-3510-8052-b7c04f4b4d31')
      .refine((value) => !isPlaceholderUuid(value), 'this UUID is a placeholder many boards report; identify the machine by its MAC')
      .transform((value) => value.toLowerCase()),
    install: z.enum(['once', 'always', 'never']),
    loader: z.enum(['ipxe', 'pxelinux', 'grub']),
    /**
     * Kernel arguments, split on spaces. iPXE and GRUB expand `$`, GRUB strips quotes, pxelinux
     * passes all as is: such characters would give each loader another command line.
     */
    kernel_args: z
      .array(z.string().regex(/^[^"'$\\]*$/, 'expected kernel arguments without quotes, $ or backslashes (each boot loader would read them differently)'))
      // "console=tty0 console=ttyS0" in one item is two arguments for every loader alike.
      .transform((items) => items.flatMap((item) => item.split(/\s+/).filter(Boolean))),
    /** Kernel and initrd for network installs: a URL for iPXE, a path under pxe/ for pxelinux and GRUB. */
    kernel: z.string().min(1),
    initrd: z.string().min(1),
    /** Only in builds/<type>/defaults: an unknown build of this type is a 404, never a generic kickstart. */
    strict: flag,
  })
  .partial()
  .loose();

export type BuildVars = z.output<typeof buildVarsSchema>;

export const knownKeys: readonly string[] = Object.keys(buildVarsSchema.shape);

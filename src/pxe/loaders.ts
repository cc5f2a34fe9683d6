// The boot loaders kickstand's DHCP boot policy (src/boot/policy.ts) hands out, and where each
// comes from. This table is the single source of truth: `pxe-install` copies from it and
// `doctor` checks pxe/ against it. Paths are those of Debian 12 (bookworm) packages.

/** Which client asks for the file: a firmware (by DHCP option 93) or a loader that was booted. */
export type LoaderClient = 'bios' | 'uefi-x64' | 'uefi-arm64' | 'pxelinux' | 'grub';

/** What the bytes of the file must look like; checked by `checkFormat` in format.ts. */
export type LoaderFormat = 'bios-nbp' | 'efi-x64' | 'efi-arm64' | 'syslinux-module';

export interface BootLoaderFile {
  /** File name in pxe/ (the TFTP root), as the DHCP boot file or as a loader requests it. */
  name: string;
  /** Debian package that installs `source`; null when no package provides it on amd64. */
  package: string | null;
  /** Absolute path installed by `package` (may be a symlink: the target's bytes are copied). */
  source: string | null;
  /** A required file missing makes `pxe-install` fail and `doctor` complain. */
  required: boolean;
  client: LoaderClient;
  format: LoaderFormat;
  /** One line for people: what the file does, and why it is optional when it is. */
  description: string;
}

const SYSLINUX_BIOS = '/usr/lib/syslinux/modules/bios';

export const BOOT_LOADERS: readonly BootLoaderFile[] = [
  {
    name: 'undionly.kpxe',
    package: 'ipxe',
    source: '/usr/lib/ipxe/undionly.kpxe',
    required: true,
    client: 'bios',
    format: 'bios-nbp',
    description: 'iPXE for BIOS PXE clients, driving the NIC through its PXE ROM (loader ipxe, the default)',
  },
  {
    name: 'ipxe.efi',
    package: 'ipxe',
    // A symlink to /boot/ipxe.efi in the package; the bytes are copied, never the link.
    source: '/usr/lib/ipxe/ipxe.efi',
    required: true,
    client: 'uefi-x64',
    format: 'efi-x64',
    description: 'iPXE for UEFI x86-64 clients with its own NIC drivers (loader ipxe, also the UEFI HTTP boot file)',
  },
  {
    name: 'snponly.efi',
    package: 'ipxe',
    source: '/usr/lib/ipxe/snponly.efi',
    required: false,
    client: 'uefi-x64',
    format: 'efi-x64',
    description: "iPXE for UEFI x86-64 using the firmware's network driver; not handed out by the policy today, a fallback for NICs where ipxe.efi fails",
  },
  {
    name: 'snp.efi',
    package: null,
    source: null,
    required: false,
    client: 'uefi-arm64',
    format: 'efi-arm64',
    description:
      'iPXE for UEFI ARM64 clients; no Debian package ships an arm64 iPXE on amd64 (ipxe and ipxe-qemu are x86 only), so build it (make bin-arm64-efi/snp.efi) and drop it in pxe/',
  },
  {
    name: 'pxelinux.0',
    package: 'pxelinux',
    source: '/usr/lib/PXELINUX/pxelinux.0',
    required: true,
    client: 'bios',
    format: 'bios-nbp',
    description: 'PXELINUX for BIOS clients of hosts with loader pxelinux; reads pxelinux.cfg/01-<mac>',
  },
  {
    name: 'ldlinux.c32',
    package: 'syslinux-common',
    source: `${SYSLINUX_BIOS}/ldlinux.c32`,
    required: true,
    client: 'pxelinux',
    format: 'syslinux-module',
    description: 'PXELINUX core module, loaded by pxelinux.0 before it reads any configuration',
  },
  {
    name: 'libutil.c32',
    package: 'syslinux-common',
    source: `${SYSLINUX_BIOS}/libutil.c32`,
    required: false,
    client: 'pxelinux',
    format: 'syslinux-module',
    description: 'library needed by menu.c32; not needed by the KERNEL/APPEND/LOCALBOOT configs kickstand generates',
  },
  {
    name: 'menu.c32',
    package: 'syslinux-common',
    source: `${SYSLINUX_BIOS}/menu.c32`,
    required: false,
    client: 'pxelinux',
    format: 'syslinux-module',
    description: 'text menu for hand-written pxelinux configs (UI menu.c32); kickstand configs boot without it',
  },
  {
    name: 'grubx64.efi',
    package: 'grub-efi-amd64-bin',
    source: '/usr/lib/grub/x86_64-efi/monolithic/grubnetx64.efi',
    required: true,
    client: 'uefi-x64',
    format: 'efi-x64',
    description: 'GRUB network image for UEFI x86-64 hosts with loader grub (prefix /grub: reads grub/grub.cfg, which kickstand generates to load grub.cfg-01-<mac> by the machine MAC); unsigned, so Secure Boot must be off',
  },
];

/** Folders created in pxe/ to document the layout; their files are generated in memory per host. */
export const PXE_CONFIG_DIRS: readonly string[] = ['pxelinux.cfg', 'grub'];

/** The Debian packages that provide the files, each once, in table order. */
export function loaderPackages(files: readonly BootLoaderFile[] = BOOT_LOADERS): string[] {
  const packages = files.map((file) => file.package).filter((name): name is string => name !== null);
  return [...new Set(packages)];
}

/** The command a person runs to install the given packages. */
export function aptInstallCommand(packages: readonly string[]): string {
  return `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

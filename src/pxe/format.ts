// Cheap checks that a boot loader's bytes are what a client of its kind can run: a wrong file
// under a right name (an arm64 image as ipxe.efi, an HTML error page) fails only on the machine.
import type { LoaderFormat } from './loaders.js';

const PE_MACHINE = { 'efi-x64': 0x8664, 'efi-arm64': 0xaa64 } as const;
const ELF_CLASS_32 = 1;
const ELF_MACHINE_386 = 3;

/** The PE machine type of an EFI image, or a reason it is not a PE image. */
export function peMachine(bytes: Buffer): number | string {
  if (bytes.length < 0x40 || bytes.toString('latin1', 0, 2) !== 'MZ') return 'no MZ header';
  const peOffset = bytes.readUInt32LE(0x3c);
  if (peOffset + 6 > bytes.length || bytes.toString('latin1', peOffset, peOffset + 4) !== 'PE\0\0') {
    return 'no PE header';
  }
  return bytes.readUInt16LE(peOffset + 4);
}

function checkEfi(bytes: Buffer, format: keyof typeof PE_MACHINE): string | null {
  const machine = peMachine(bytes);
  if (typeof machine === 'string') return machine;
  const expected = PE_MACHINE[format];
  return machine === expected ? null : `PE machine 0x${machine.toString(16)}, expected 0x${expected.toString(16)}`;
}

function checkSyslinuxModule(bytes: Buffer): string | null {
  if (bytes.length < 20 || bytes.toString('latin1', 0, 4) !== '\x7fELF') return 'not an ELF file';
  if (bytes[4] !== ELF_CLASS_32 || bytes.readUInt16LE(18) !== ELF_MACHINE_386) return 'not a 32-bit i386 ELF module';
  return null;
}

/** Null when the bytes fit the format, else a short reason. */
export function checkFormat(bytes: Buffer, format: LoaderFormat): string | null {
  if (bytes.length === 0) return 'empty file';
  switch (format) {
    case 'efi-x64':
    case 'efi-arm64':
      return checkEfi(bytes, format);
    case 'syslinux-module':
      return checkSyslinuxModule(bytes);
    case 'bios-nbp':
      // A PXE network boot program is raw real-mode code with no signature; non-empty is all we can say.
      return null;
  }
}

// Packets built byte by byte the way firmware lays them out, independently of src/dhcp/codec.ts,
// so codec tests do not check the encoder against itself. Option lists follow captures of the
// named clients (Intel PXE 2.1 UNDI ROM, EDK2/OVMF, iPXE 1.21, udhcpc, UEFI HTTP boot).

export type RawOption = [code: number, value: number[] | string | Buffer];

export interface RawFields {
  op?: number;
  htype?: number;
  hlen?: number;
  hops?: number;
  xid?: number;
  secs?: number;
  flags?: number;
  ciaddr?: string;
  yiaddr?: string;
  siaddr?: string;
  giaddr?: string;
  mac?: string;
  sname?: Buffer;
  file?: Buffer;
  cookie?: number;
}

function ipBytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

function valueBytes(value: number[] | string | Buffer): Buffer {
  if (typeof value === 'string') return Buffer.from(value, 'latin1');
  return Buffer.from(value);
}

export function optionBytes(options: RawOption[], end = true): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of options) {
    const v = valueBytes(value);
    parts.push(Buffer.from([code, v.length]), v);
  }
  if (end) parts.push(Buffer.from([255]));
  return Buffer.concat(parts);
}

export function rawPacket(fields: RawFields, options: RawOption[], opts: { end?: boolean; length?: number } = {}): Buffer {
  const header = Buffer.alloc(240);
  header[0] = fields.op ?? 1;
  header[1] = fields.htype ?? 1;
  header[2] = fields.hlen ?? 6;
  header[3] = fields.hops ?? 0;
  header.writeUInt32BE(fields.xid ?? 0x12345678, 4);
  header.writeUInt16BE(fields.secs ?? 4, 8);
  header.writeUInt16BE(fields.flags ?? 0x8000, 10);
  Buffer.from(ipBytes(fields.ciaddr ?? '0.0.0.0')).copy(header, 12);
  Buffer.from(ipBytes(fields.yiaddr ?? '0.0.0.0')).copy(header, 16);
  Buffer.from(ipBytes(fields.siaddr ?? '0.0.0.0')).copy(header, 20);
  Buffer.from(ipBytes(fields.giaddr ?? '0.0.0.0')).copy(header, 24);
  Buffer.from((fields.mac ?? '52:54:00:12:34:56').split(':').map((h) => parseInt(h, 16))).copy(header, 28);
  fields.sname?.copy(header, 44, 0, 64);
  fields.file?.copy(header, 108, 0, 128);
  header.writeUInt32BE(fields.cookie ?? 0x63825363, 236);
  const body = Buffer.concat([header, optionBytes(options, opts.end ?? true)]);
  const length = opts.length ?? body.length;
  return body.length >= length ? body : Buffer.concat([body, Buffer.alloc(length - body.length)]);
}

/** Option 97 as OVMF and QEMU's iPXE ROM sent it for `-uuid 4c4c4544-0042-3510-8052-b7c04f4b4d31`: the first three fields little-endian. */
export const UUID_BYTES = [0x00, 0x44, 0x45, 0x4c, 0x4c, 0x42, 0x00, 0x10, 0x35, 0x80, 0x52, 0xb7, 0xc0, 0x4f, 0x4b, 0x4d, 0x31];
export const UUID_TEXT = '4c4c4544-0042-3510-8052-b7c04f4b4d31';

const PXE_PRL = [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135];

/** Intel PXE 2.1 BIOS ROM: arch 0, UNDI 2.1, padded to 548 bytes. */
export function pxeBiosDiscover(mac = '00:1b:21:aa:00:01', xid = 0x0badf00d): Buffer {
  return rawPacket(
    { xid, mac },
    [
      [53, [1]],
      [57, [0x05, 0xc0]],
      [55, PXE_PRL],
      [97, UUID_BYTES],
      [94, [1, 2, 1]],
      [93, [0, 0]],
      [60, 'PXEClient:Arch:00000:UNDI:002001'],
    ],
    { length: 548 },
  );
}

/** EDK2 (OVMF) x64 PXE: arch 7, UNDI 3.0. */
export function uefiX64Discover(mac = '52:54:00:00:00:07', xid = 0x07070707, arch = 7): Buffer {
  return rawPacket({ xid, mac }, [
    [53, [1]],
    [57, [0x05, 0xdc]],
    [55, [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135]],
    [97, UUID_BYTES],
    [94, [1, 3, 0]],
    [93, [0, arch]],
    [60, `PXEClient:Arch:${String(arch).padStart(5, '0')}:UNDI:003000`],
  ]);
}

/** ARM64 UEFI PXE: arch 11. */
export function arm64Discover(mac = '52:54:00:00:00:0b'): Buffer {
  return rawPacket({ xid: 0x0b0b0b0b, mac }, [
    [53, [1]],
    [57, [0x05, 0xdc]],
    [55, [1, 3, 6, 15, 43, 60, 66, 67]],
    [97, UUID_BYTES],
    [94, [1, 3, 0]],
    [93, [0, 11]],
    [60, 'PXEClient:Arch:00011:UNDI:003000'],
  ]);
}

/** UEFI HTTP boot, x64: arch 16 and vendor class HTTPClient. */
export function httpClientDiscover(mac = '52:54:00:00:00:10'): Buffer {
  return rawPacket({ xid: 0x10101010, mac }, [
    [53, [1]],
    [57, [0x05, 0xdc]],
    [55, [1, 3, 6, 15, 43, 60, 66, 67]],
    [97, UUID_BYTES],
    [94, [1, 3, 1]],
    [93, [0, 16]],
    [60, 'HTTPClient:Arch:00016:UNDI:003001'],
  ]);
}

/** iPXE after chain-loading: plain-string user class "iPXE" and its option 175 features. */
export function ipxeDiscover(mac = '00:1b:21:aa:00:01'): Buffer {
  return rawPacket({ xid: 0x1e1e1e1e, mac, flags: 0 }, [
    [53, [1]],
    [57, [0x05, 0xdc]],
    [93, [0, 0]],
    [94, [1, 2, 1]],
    [60, 'PXEClient:Arch:00000:UNDI:002001'],
    [77, 'iPXE'],
    [55, [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203]],
    [175, [0xb1, 5, 1, 0x80, 0x86, 0x10, 0x0e, 0x13, 1, 1, 0x11, 1, 1, 0x21, 1, 1, 0x18, 1, 1, 0xeb, 3, 1, 21, 1]],
    [61, [1, 0x00, 0x1b, 0x21, 0xaa, 0x00, 0x01]],
    [97, UUID_BYTES],
  ]);
}

/** busybox udhcpc without a vendor class: a plain, non-booting client. */
export function plainDiscover(mac = '02:00:00:00:00:99'): Buffer {
  return rawPacket({ xid: 0x99999999, mac, flags: 0 }, [
    [53, [1]],
    [61, [1, ...mac.split(':').map((h) => parseInt(h, 16))]],
    [57, [0x02, 0x40]],
    [55, [1, 3, 6, 12, 15, 28, 42]],
  ]);
}

/** nmap broadcast-dhcp-discover style: PRL naming 50 and 60, the lists that crashed the npm `dhcp` package. */
export function nmapDiscover(): Buffer {
  return rawPacket({ xid: 0x4e4d4150, mac: 'de:ad:c0:de:ca:fe' }, [
    [53, [1]],
    [55, [1, 3, 6, 15, 28, 50, 51, 54, 58, 59, 60, 119]],
    [60, 'PXEClient:Arch:00007:UNDI:003016'],
  ]);
}

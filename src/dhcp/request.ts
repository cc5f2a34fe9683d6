// A decoded request plus where it arrived, and the boot facts the policy needs from it.

import type { BootFacts } from '../boot/policy.js';
import { clientMac, type DhcpPacket } from './codec.js';
import { read } from './options.js';

export interface IncomingRequest {
  packet: DhcpPacket;
  /** 'dhcp': the DHCP server port (67); 'pxe': the PXE boot server port (4011). */
  receivedOn: 'dhcp' | 'pxe';
  /** True when the datagram was addressed to the server's own address rather than broadcast. */
  unicast: boolean;
  source: { address: string; port: number };
}

export function bootFacts(packet: DhcpPacket): BootFacts {
  const arch = read.clientArch(packet.options);
  return {
    messageType: read.messageType(packet.options) ?? 0,
    vendorClass: read.vendorClass(packet.options),
    userClass: read.userClass(packet.options),
    clientArch: arch?.[0],
    mac: clientMac(packet),
    uuid: read.clientUuid(packet.options),
  };
}

// Where a reply goes (RFC 2131 4.1, PXE 2.1): the one place that decides unicast or broadcast.

import { LIMITED_BROADCAST, ZERO_ADDRESS } from './ipv4.js';
import { MessageType } from './options.js';
import type { IncomingRequest } from './request.js';

export interface DhcpPorts {
  /** DHCP server port, also where relays listen (67). */
  server: number;
  /** DHCP client port (68). */
  client: number;
  /** PXE boot server port (4011). */
  pxe: number;
}

export const STANDARD_PORTS: DhcpPorts = { server: 67, client: 68, pxe: 4011 };

export interface Destination {
  address: string;
  port: number;
  broadcast: boolean;
}

export function replyDestination(request: IncomingRequest, replyType: number, ports: DhcpPorts): Destination {
  const { packet, source } = request;
  // A PXE client talking to port 4011 already has an address: answer where it came from.
  if (request.receivedOn === 'pxe') {
    return source.address === ZERO_ADDRESS
      ? { address: LIMITED_BROADCAST, port: source.port, broadcast: true }
      : { address: source.address, port: source.port, broadcast: false };
  }
  // Relayed: back to the relay agent's server port; the relay delivers it on the client's segment.
  if (packet.giaddr !== ZERO_ADDRESS) return { address: packet.giaddr, port: ports.server, broadcast: false };
  // A NAK goes to everyone: the client's address is the thing being refused.
  if (replyType === MessageType.Nak) return { address: LIMITED_BROADCAST, port: ports.client, broadcast: true };
  // A configured client (RENEWING, INFORM) can receive unicast.
  if (packet.ciaddr !== ZERO_ADDRESS) return { address: packet.ciaddr, port: ports.client, broadcast: false };
  // Unicasting to yiaddr needs an ARP entry injected by hand, which a UDP socket cannot do;
  // RFC 2131 allows broadcasting instead.
  return { address: LIMITED_BROADCAST, port: ports.client, broadcast: true };
}

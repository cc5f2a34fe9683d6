// Building replies: the common BOOTP header and the boot options both responders send.

import type { BootDecision } from '../boot/policy.js';
import { BOOTREPLY, FLAG_BROADCAST, MAX_FILE_FIELD, type DhcpPacket } from './codec.js';
import { ZERO_ADDRESS } from './ipv4.js';
import { encode, Opt, PXE_DISCOVERY_USE_BOOTFILE, PxeSubOpt, read } from './options.js';

export function newReply(request: DhcpPacket, messageType: number, serverIp: string): DhcpPacket {
  return {
    op: BOOTREPLY,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags & FLAG_BROADCAST,
    ciaddr: ZERO_ADDRESS,
    yiaddr: ZERO_ADDRESS,
    siaddr: ZERO_ADDRESS,
    giaddr: request.giaddr,
    chaddr: Buffer.from(request.chaddr),
    sname: '',
    file: '',
    options: new Map([
      [Opt.MessageType, encode.u8(messageType)],
      [Opt.ServerId, encode.ip(serverIp)],
    ]),
  };
}

type BootAnswer = Extract<BootDecision, { action: 'boot' }>;

/** next-server, file field + option 67, option 60, PXE option 43, option 97 echoed. */
export function addBootOptions(reply: DhcpPacket, decision: BootAnswer, request: DhcpPacket): void {
  reply.siaddr = decision.nextServer;
  // A URL too long for the 128-byte field still reaches iPXE and HTTP boot through option 67.
  reply.file = decision.bootFile.length <= MAX_FILE_FIELD ? decision.bootFile : '';
  reply.options.set(Opt.BootfileName, encode.text(decision.bootFile));
  reply.options.set(Opt.VendorClass, encode.text(decision.replyVendorClass));
  if (decision.replyVendorClass === 'PXEClient') {
    // Without option 43 PXE ROMs treat the offer as plain DHCP; discovery control 8 makes them
    // boot the file named here instead of running boot server discovery or a menu.
    const sub: Array<[number, Buffer]> = [[PxeSubOpt.DiscoveryControl, encode.u8(PXE_DISCOVERY_USE_BOOTFILE)]];
    const item = read.vendorSpecific(request.options)?.get(PxeSubOpt.BootItem);
    // A boot server discovery request expects its boot item echoed in the ACK.
    if (item !== undefined && item.length === 4) sub.push([PxeSubOpt.BootItem, item]);
    reply.options.set(Opt.VendorSpecific, encode.subOptions(sub));
  }
  const uuid = request.options.get(Opt.ClientUuid);
  if (uuid !== undefined) reply.options.set(Opt.ClientUuid, Buffer.from(uuid));
}

// proxyDHCP (PXE 2.1 section 2.2, RFC 4578): boot instructions for PXE, HTTP boot and iPXE clients
// next to a DHCP server kickstand does not control. Never assigns an address.

import { decideBoot, type BootServer } from '../boot/policy.js';
import type { DhcpAnswer, DhcpEvent } from './answer.js';
import { BOOTREQUEST, clientMac } from './codec.js';
import { replyDestination, type DhcpPorts } from './destination.js';
import type { LookupHost } from './host-lookup.js';
import { MessageType, messageTypeName, read } from './options.js';
import { addBootOptions, newReply } from './reply.js';
import { bootFacts, type IncomingRequest } from './request.js';

export interface ProxyConfig {
  boot: BootServer;
  ports: DhcpPorts;
}

export interface ProxyDeps {
  lookupHost: LookupHost;
}

/**
 * Which reply, if any, a proxyDHCP server gives to this message:
 * - DISCOVER on 67 -> OFFER (alongside the real DHCP server's offer);
 * - REQUEST or INFORM on 4011 -> ACK (PXE boot server request, unicast after the client has an address);
 * - REQUEST or INFORM on 67 carrying a PXE boot item (43/71) -> ACK: broadcast boot server discovery.
 * A plain REQUEST on 67 belongs to the real DHCP server and is left alone.
 */
function replyTypeFor(request: IncomingRequest, messageType: number | undefined): number | undefined {
  const asksBootServer = messageType === MessageType.Request || messageType === MessageType.Inform;
  if (request.receivedOn === 'pxe') return asksBootServer ? MessageType.Ack : undefined;
  if (messageType === MessageType.Discover) return MessageType.Offer;
  if (asksBootServer && read.pxeBootItem(request.packet.options) !== undefined) return MessageType.Ack;
  return undefined;
}

export function answerProxy(request: IncomingRequest, config: ProxyConfig, deps: ProxyDeps): DhcpAnswer {
  const { packet } = request;
  const messageType = read.messageType(packet.options);
  const facts = bootFacts(packet);
  const event: DhcpEvent = {
    mode: 'proxy',
    mac: facts.mac,
    uuid: facts.uuid,
    xid: packet.xid,
    request: messageTypeName(messageType),
    outcome: 'silent',
  };
  const silent = (reason: string): DhcpAnswer => ({ action: 'silent', reason, level: 'debug', event: { ...event, reason } });

  if (packet.op !== BOOTREQUEST) return silent('not a BOOTREQUEST');
  const replyType = replyTypeFor(request, messageType);
  if (replyType === undefined) {
    return silent(`proxyDHCP does not answer ${messageTypeName(messageType)} on the ${request.receivedOn} port`);
  }

  const decision = decideBoot(facts, deps.lookupHost(clientMac(packet), facts.uuid), config.boot);
  if (decision.action === 'ignore') return silent(`${decision.reason}: ${decision.detail}`);

  const reply = newReply(packet, replyType, config.boot.serverIp);
  if (replyType === MessageType.Ack) reply.ciaddr = packet.ciaddr;
  // yiaddr stays 0.0.0.0: the address comes from the real DHCP server. No option 175/176 either:
  // telling iPXE to skip proxyDHCP would make it miss this very answer.
  addBootOptions(reply, decision, packet);

  return {
    action: 'reply',
    reply,
    destination: replyDestination(request, replyType, config.ports),
    event: {
      ...event,
      outcome: replyType === MessageType.Offer ? 'offer' : 'ack',
      bootFile: decision.bootFile,
    },
  };
}

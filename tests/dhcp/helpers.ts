// Shared test plumbing: turn hand-built bytes into the request a responder sees.

import assert from 'node:assert/strict';
import { decodePacket, encodePacket, type DhcpPacket } from '../../src/dhcp/codec.js';
import type { DhcpAnswer } from '../../src/dhcp/answer.js';
import type { IncomingRequest } from '../../src/dhcp/request.js';

export function decodeOrFail(bytes: Buffer): DhcpPacket {
  const result = decodePacket(bytes);
  if (!result.ok) assert.fail(`decode failed: ${JSON.stringify(result.error)}`);
  return result.value;
}

export function incoming(bytes: Buffer, over: Partial<Omit<IncomingRequest, 'packet'>> = {}): IncomingRequest {
  return {
    packet: decodeOrFail(bytes),
    receivedOn: 'dhcp',
    unicast: false,
    source: { address: '0.0.0.0', port: 68 },
    ...over,
  };
}

/** The reply as the client would see it: encoded, then decoded again. */
export function replyOf(answer: DhcpAnswer): DhcpPacket {
  if (answer.action !== 'reply') assert.fail(`expected a reply, got silence: ${answer.reason}`);
  const bytes = encodePacket(answer.reply);
  if (!bytes.ok) assert.fail(`reply does not encode: ${JSON.stringify(bytes.error)}`);
  return decodeOrFail(bytes.value);
}

export function silenceOf(answer: DhcpAnswer): string {
  if (answer.action !== 'silent') assert.fail(`expected silence, got a reply to ${answer.destination.address}`);
  return answer.reason;
}

// What a responder returns: a reply and where to send it, or silence with the reason.

import type { DhcpPacket } from './codec.js';
import type { Destination } from './destination.js';

export interface DhcpEvent {
  mode: 'proxy' | 'full';
  mac: string;
  uuid: string | undefined;
  xid: number;
  /** Request message type name: DISCOVER, REQUEST, ... */
  request: string;
  outcome: 'offer' | 'ack' | 'nak' | 'silent';
  ip?: string;
  bootFile?: string;
  reason?: string;
}

export type DhcpAnswer =
  | { action: 'reply'; reply: DhcpPacket; destination: Destination; event: DhcpEvent }
  | {
      action: 'silent';
      reason: string;
      /** How loud the server should log it: debug for routine ignores, warn for trouble. */
      level: 'debug' | 'info' | 'warn';
      event: DhcpEvent;
    };

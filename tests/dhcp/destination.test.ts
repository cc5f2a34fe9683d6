import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { replyDestination, STANDARD_PORTS } from '../../src/dhcp/destination.js';
import { MessageType } from '../../src/dhcp/options.js';
import { rawPacket } from './firmware-packets.js';
import { incoming } from './helpers.js';

const { Offer, Ack, Nak } = MessageType;

describe('replyDestination', () => {
  const table: Array<{
    name: string;
    fields: { ciaddr?: string; giaddr?: string };
    on?: 'dhcp' | 'pxe';
    source?: { address: string; port: number };
    reply: number;
    ports?: typeof STANDARD_PORTS;
    expect: { address: string; port: number; broadcast: boolean };
  }> = [
    { name: 'unconfigured client: broadcast to 68', fields: {}, reply: Offer, expect: { address: '255.255.255.255', port: 68, broadcast: true } },
    { name: 'relayed: unicast to giaddr:67', fields: { giaddr: '10.9.0.1' }, reply: Offer, expect: { address: '10.9.0.1', port: 67, broadcast: false } },
    { name: 'relayed NAK still goes to the relay', fields: { giaddr: '10.9.0.1', ciaddr: '10.9.0.5' }, reply: Nak, expect: { address: '10.9.0.1', port: 67, broadcast: false } },
    { name: 'relayed wins over ciaddr', fields: { giaddr: '10.9.0.1', ciaddr: '10.9.0.5' }, reply: Ack, expect: { address: '10.9.0.1', port: 67, broadcast: false } },
    { name: 'ciaddr set (renewing, inform): unicast to ciaddr:68', fields: { ciaddr: '10.0.0.5' }, reply: Ack, expect: { address: '10.0.0.5', port: 68, broadcast: false } },
    { name: 'NAK with ciaddr is broadcast', fields: { ciaddr: '10.0.0.5' }, reply: Nak, expect: { address: '255.255.255.255', port: 68, broadcast: true } },
    { name: 'PXE port: back to the source', fields: { ciaddr: '10.0.0.5' }, on: 'pxe', source: { address: '10.0.0.5', port: 4011 }, reply: Ack, expect: { address: '10.0.0.5', port: 4011, broadcast: false } },
    { name: 'PXE port from 0.0.0.0: broadcast to the source port', fields: {}, on: 'pxe', source: { address: '0.0.0.0', port: 68 }, reply: Ack, expect: { address: '255.255.255.255', port: 68, broadcast: true } },
    { name: 'test ports are honoured', fields: { giaddr: '127.0.0.2' }, reply: Offer, ports: { server: 10067, client: 10068, pxe: 14011 }, expect: { address: '127.0.0.2', port: 10067, broadcast: false } },
    { name: 'test client port is honoured', fields: {}, reply: Offer, ports: { server: 10067, client: 10068, pxe: 14011 }, expect: { address: '255.255.255.255', port: 10068, broadcast: true } },
  ];
  for (const row of table) {
    it(row.name, () => {
      const request = incoming(rawPacket(row.fields, [[53, [1]]]), {
        receivedOn: row.on ?? 'dhcp',
        source: row.source ?? { address: '0.0.0.0', port: 68 },
      });
      assert.deepEqual(replyDestination(request, row.reply, row.ports ?? STANDARD_PORTS), row.expect);
    });
  }
});

// Which local interface kickstand serves DHCP on: the one holding serverIp.
// Node's dgram cannot bind to a device nor tell which interface a broadcast came in on, so the
// served broadcast domain is fixed at start (see docs/adr/0002-own-dhcp-server.md).

import type { NetworkInterfaceInfo } from 'node:os';
import { err, ok, type Result } from './result.js';

export interface ServedInterface {
  name: string;
  address: string;
  netmask: string;
}

export type InterfaceTable = NodeJS.Dict<NetworkInterfaceInfo[]>;

function ipv4Entries(table: InterfaceTable): Array<ServedInterface> {
  const out: ServedInterface[] = [];
  for (const [name, infos] of Object.entries(table)) {
    for (const info of infos ?? []) {
      if (info.family === 'IPv4') out.push({ name, address: info.address, netmask: info.netmask });
    }
  }
  return out;
}

export function findServedInterface(
  table: InterfaceTable,
  serverIp: string,
  wantedName: string | undefined,
): Result<ServedInterface, string> {
  const entries = ipv4Entries(table);
  const listing = entries.map((e) => `${e.name} ${e.address}/${e.netmask}`).join(', ') || 'none';
  if (wantedName !== undefined && !entries.some((e) => e.name === wantedName) && table[wantedName] === undefined) {
    return err(`interface ${wantedName} does not exist (IPv4 interfaces: ${listing})`);
  }
  const match = entries.find((e) => e.address === serverIp);
  if (match === undefined) {
    return err(`serverIp ${serverIp} is not an address of this machine (IPv4 interfaces: ${listing}); set it to the address facing the machines to boot`);
  }
  if (wantedName !== undefined && match.name !== wantedName) {
    return err(`serverIp ${serverIp} is on interface ${match.name}, not ${wantedName}; pick an address of ${wantedName}`);
  }
  return ok(match);
}

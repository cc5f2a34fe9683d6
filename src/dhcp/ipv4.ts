// Dotted-quad IPv4 addresses as unsigned 32-bit integers, for subnet and range math.

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export const ZERO_ADDRESS = '0.0.0.0';
export const LIMITED_BROADCAST = '255.255.255.255';

export function isIpv4(text: string): boolean {
  return IPV4.test(text);
}

/** Callers validate first; an invalid address maps to 0. */
export function ipToInt(ip: string): number {
  if (!isIpv4(ip)) return 0;
  return ip.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}

export function intToIp(value: number): string {
  const v = value >>> 0;
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

/** A mask is valid when its one bits are contiguous from the top (255.255.254.0, not 255.0.255.0). */
export function isContiguousMask(mask: string): boolean {
  if (!isIpv4(mask)) return false;
  const m = ipToInt(mask);
  const inverted = ~m >>> 0;
  return (inverted & (inverted + 1)) === 0;
}

export function networkOf(ip: string, mask: string): number {
  return (ipToInt(ip) & ipToInt(mask)) >>> 0;
}

export function broadcastOf(ip: string, mask: string): number {
  return (networkOf(ip, mask) | (~ipToInt(mask) >>> 0)) >>> 0;
}

export function sameSubnet(a: string, b: string, mask: string): boolean {
  return networkOf(a, mask) === networkOf(b, mask);
}

/** A subnet written as the address of one member plus its mask. */
export interface Subnet {
  address: string;
  mask: string;
}

export function contains(subnet: Subnet, ip: string): boolean {
  return isIpv4(ip) && sameSubnet(subnet.address, ip, subnet.mask);
}

/** The network and broadcast addresses of a subnet are never given to a host (except in /31 and /32). */
export function isHostAddress(subnet: Subnet, ip: string): boolean {
  if (!contains(subnet, ip)) return false;
  const bits = 32 - Math.log2((~ipToInt(subnet.mask) >>> 0) + 1);
  if (bits >= 31) return true;
  const v = ipToInt(ip);
  return v !== networkOf(subnet.address, subnet.mask) && v !== broadcastOf(subnet.address, subnet.mask);
}

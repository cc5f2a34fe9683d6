// What the DHCP responders may ask of the host definitions: a callback, so a transport never
// reads definition files itself.

import { z } from 'zod';
import { HostBootInfoSchema } from '../boot/policy.js';

/** A fixed address for one machine, from its host definition (ipaddr, netmask, gateway...). */
export const ReservationSchema = z.object({
  ip: z.ipv4(),
  subnetMask: z.ipv4().optional(),
  router: z.ipv4().optional(),
  dns: z.array(z.ipv4()).optional(),
  domain: z.string().min(1).optional(),
  hostname: z.string().min(1).optional(),
});
export type Reservation = z.infer<typeof ReservationSchema>;

export const HostLookupSchema = HostBootInfoSchema.extend({
  /** Used in full mode only; proxy mode never assigns addresses. */
  reservation: ReservationSchema.optional(),
});
export type HostLookup = z.infer<typeof HostLookupSchema>;

/** mac is lowercase aa:bb:cc:dd:ee:ff; uuid is option 97 when the client sent one. */
export type LookupHost = (mac: string, uuid: string | undefined) => HostLookup | undefined;

import path from 'node:path';
import { z } from 'zod';

/** Options of `kickstand serve`, validated once; everything else receives this type. */
export const serveConfigSchema = z.object({
  root: z.string().transform((value) => path.resolve(value)),
  httpPort: z.coerce.number().int().min(0).max(65535),
  host: z.string().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ServeConfig = z.output<typeof serveConfigSchema>;
export type ServeConfigInput = z.input<typeof serveConfigSchema>;

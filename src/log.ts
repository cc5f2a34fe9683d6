import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/** Keys whose values are secrets wherever they appear in a log object. */
export const SECRET_KEY_PATTERN = /pass|secret|token|salt|private|credential/i;

/**
 * One root logger for the process; modules take child loggers carrying
 * `build`, `mac`, `host` or `reqId`. Secrets are redacted by path as a second
 * line of defence: the code never passes definition values to the logger.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  const config: LoggerOptions = {
    level: options.level ?? process.env.LOG_LEVEL ?? 'info',
    base: { name: 'kickstand' },
    redact: {
      paths: ['root_pass', '*.root_pass', 'password', '*.password', 'token', '*.token', 'req.headers.authorization', 'req.headers.cookie'],
      censor: '<redacted>',
    },
  };
  return options.destination ? pino(config, options.destination as pino.DestinationStream) : pino(config);
}

/** A logger that discards everything, for CLI commands and tests that assert on return values. */
export const silentLogger: Logger = pino({ level: 'silent' });

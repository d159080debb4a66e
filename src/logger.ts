// pino to stderr (fd 2): stdout belongs to JSON-RPC on stdio and to the CLI's one-time token output.
import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

/** Paths pino replaces with [Redacted]: tokens and authorization headers never reach a log. */
export const REDACT_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'req.headers.authorization',
  'acceptance_token',
  '*.acceptance_token',
  'enrollment_token',
  '*.enrollment_token',
  'password',
  '*.password',
];

export function createLogger(level: string, destination: pino.DestinationStream = pino.destination(2)): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[Redacted]' }, base: { app: 'flotilla' } }, destination);
}

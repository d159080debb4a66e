// Recognises store failures that mean "the database is unreachable for now" rather than a bug.

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  '57P01', // admin_shutdown (pg_terminate_backend)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
]);

const CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /terminating connection due to administrator command/i,
  /Client was closed and is not queryable/i,
];

/** True when `err` is a lost or refused database connection; the same call may work when retried. */
export function isConnectionError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && CONNECTION_CODES.has(code)) return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && CONNECTION_MESSAGES.some((re) => re.test(message));
}

/** True when `err` is a unique-constraint violation (Postgres 23505). */
export function isUniqueViolation(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === '23505';
}

/** The SQLSTATE of a driver error (pg and PGlite both carry it as `code`), or null. */
function sqlState(err: unknown): string | null {
  if (typeof err !== 'object' || err === null) return null;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : null;
}

/**
 * True when the statement failed on a value it was given (SQLSTATE class 22, data exception: a NUL
 * byte, a number or date out of range, text that is not the type it must be): the caller's input,
 * not the store, is at fault, and the same call fails again unchanged.
 */
export function isDataError(err: unknown): boolean {
  return sqlState(err)?.startsWith('22') === true;
}

/** True when a row broke a constraint (SQLSTATE class 23: unique, check, foreign key, not null). */
export function isIntegrityError(err: unknown): boolean {
  return sqlState(err)?.startsWith('23') === true;
}

const DATA_ERROR_REASONS: Readonly<Record<string, string>> = {
  '22021': 'text holds a character the store cannot keep (NUL or invalid Unicode)',
  '22P05': 'text holds a character the store cannot keep (NUL or invalid Unicode)',
  '22003': 'a number is out of range',
  '22008': 'a date or time is out of range',
  '22007': 'a date or time is not valid',
  '22009': 'a date or time is not valid',
  '22P02': 'a value does not have the form its field needs',
  '22001': 'a text value is too long',
};

/** What was wrong with the input, in words fit for a caller (never the driver's message), for a data error. */
export function dataErrorReason(err: unknown): string {
  const code = sqlState(err);
  return (code === null ? undefined : DATA_ERROR_REASONS[code]) ?? 'a value is one the store cannot accept';
}

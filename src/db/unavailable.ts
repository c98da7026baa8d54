// SQLSTATE classes that say the server, not the statement, is the problem: connection exception,
// insufficient resources, operator intervention (shutdown, restart, admin terminate), system error.
const UNAVAILABLE_SQLSTATE_CLASSES = ['08', '53', '57', '58'];
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
// node-postgres reports a lost or refused connection with these messages and no code.
const CONNECTION_MESSAGES = [
  /Connection terminated/i,
  /timeout exceeded when trying to connect/i,
  /Client has encountered a connection error/i,
  /Connection ended/i,
  /Client was closed and is not queryable/i,
];

export function isSqlState(error: unknown): error is { code: string } {
  const candidate = error as { code?: unknown; severity?: unknown } | null;
  return typeof candidate?.code === 'string' && /^[0-9A-Z]{5}$/.test(candidate.code) && candidate.severity !== undefined;
}

/** Whether an error means PostgreSQL could not be reached or went away (a restart, a failover). */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (isSqlState(error)) return UNAVAILABLE_SQLSTATE_CLASSES.includes(error.code.slice(0, 2));
  const candidate = error as { code?: unknown; message?: unknown } | null;
  if (typeof candidate?.code === 'string' && NETWORK_CODES.has(candidate.code)) return true;
  if (error instanceof AggregateError) return error.errors.some(isDatabaseUnavailable);
  return typeof candidate?.message === 'string' && CONNECTION_MESSAGES.some((pattern) => pattern.test(candidate.message as string));
}

import { readFile, stat } from 'node:fs/promises';
import type { OauthbearerProviderResponse } from 'kafkajs';
import { UnavailableError } from '../errors.js';

/** A token this close to its expiry is read again from the file before it is used. */
export const TOKEN_REFRESH_MARGIN_MS = 60_000;

interface CachedToken {
  value: string;
  /** from the JWT's `exp`; undefined for an opaque token */
  expiresAtMs: number | undefined;
  fileMtimeMs: number;
}

/** kafkajs sends `extensions` (Confluent Cloud's logicalCluster, identityPoolId) though its types omit them. */
export type OauthToken = OauthbearerProviderResponse & { extensions?: Record<string, string> };

/**
 * The OAUTHBEARER token provider kafkajs calls on every (re)authentication. The token lives in a file
 * that a sidecar (an OIDC agent, Vault, a Confluent token refresher) rewrites; it is read again when
 * the file changed or the cached token is within a minute of its `exp`, so a long-lived client never
 * presents an expired token while a fresh one is on disk.
 */
export function oauthTokenProvider(
  tokenFile: string,
  extensions?: Record<string, string>,
  now: () => number = Date.now,
): () => Promise<OauthToken> {
  let cached: CachedToken | undefined;
  return async () => {
    const mtimeMs = await fileMtime(tokenFile);
    const fresh =
      cached !== undefined &&
      cached.fileMtimeMs === mtimeMs &&
      (cached.expiresAtMs === undefined || cached.expiresAtMs - now() > TOKEN_REFRESH_MARGIN_MS);
    if (!fresh) cached = await readToken(tokenFile, mtimeMs);
    const token = cached as CachedToken;
    if (token.expiresAtMs !== undefined && token.expiresAtMs <= now()) {
      throw new UnavailableError(
        `the OAuth token in KAFKA_OAUTH_TOKEN_FILE (${tokenFile}) expired at ${new Date(token.expiresAtMs).toISOString()}`,
        { hint: 'check that the process refreshing the token file is running' },
      );
    }
    return { value: token.value, ...(extensions && Object.keys(extensions).length ? { extensions } : {}) };
  };
}

async function fileMtime(tokenFile: string): Promise<number> {
  try {
    return (await stat(tokenFile)).mtimeMs;
  } catch (error) {
    throw unreadable(tokenFile, error);
  }
}

async function readToken(tokenFile: string, fileMtimeMs: number): Promise<CachedToken> {
  let value: string;
  try {
    value = (await readFile(tokenFile, 'utf8')).trim();
  } catch (error) {
    throw unreadable(tokenFile, error);
  }
  if (value === '')
    throw new UnavailableError(`KAFKA_OAUTH_TOKEN_FILE (${tokenFile}) is empty`, { hint: 'write the access token into it' });
  return { value, expiresAtMs: jwtExpiry(value), fileMtimeMs };
}

function unreadable(tokenFile: string, error: unknown): UnavailableError {
  return new UnavailableError(`cannot read KAFKA_OAUTH_TOKEN_FILE (${tokenFile}): ${(error as Error).message}`, {
    hint: 'point KAFKA_OAUTH_TOKEN_FILE at the file your token refresher writes',
    cause: error,
  });
}

/** `exp` of a JWT in milliseconds, or undefined when the token is not a JWT or has none. */
export function jwtExpiry(token: string): number | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const claims = JSON.parse(Buffer.from(parts[1] as string, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Secrets must never reach a log line or an error message. Configuration registers every secret
 * value it reads; `redact` scrubs those values and any URL password from a string.
 */

const registeredSecrets = new Set<string>();

/** Values shorter than this are not registered: scrubbing them would mangle ordinary text. */
const MIN_SECRET_LENGTH = 6;

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH) registeredSecrets.add(value);
}

const URL_PASSWORD = /\b([a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)([^@/?#\s]+)@/gi;
const PASSWORD_PARAM = /([?&]password=)([^&#\s]+)/gi;
const STRIPE_KEY = /\b((?:sk|rk)_(?:test|live)_)[A-Za-z0-9]+/g;
const WEBHOOK_SECRET = /\b(whsec_)[A-Za-z0-9+/=_-]+/g;

export function redact(text: string): string {
  let out = text
    .replace(URL_PASSWORD, '$1***@')
    .replace(PASSWORD_PARAM, '$1***')
    .replace(STRIPE_KEY, '$1***')
    .replace(WEBHOOK_SECRET, '$1***');
  for (const secret of registeredSecrets) {
    if (out.includes(secret)) out = out.split(secret).join('***');
  }
  return out;
}

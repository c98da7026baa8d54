import { authenticationError } from './errors.js';

/** Any test-mode secret key is accepted; the emulator has no accounts. */
const TEST_SECRET_KEY = /^sk_test_[A-Za-z0-9_]+$/;

/**
 * The API key of a request: `Authorization: Bearer sk_test_…` (what the SDKs send) or HTTP Basic
 * with the key as user name (what `curl -u sk_test_…:` sends). The key is never echoed whole.
 */
export function authenticate(authorization: string | undefined): string {
  if (!authorization) {
    throw authenticationError(
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  const [scheme = '', credentials = ''] = authorization.trim().split(/\s+/, 2);
  let key = credentials;
  if (/^basic$/i.test(scheme)) key = Buffer.from(credentials, 'base64').toString('utf8').split(':')[0] ?? '';
  else if (!/^bearer$/i.test(scheme)) key = '';
  if (!TEST_SECRET_KEY.test(key)) {
    throw authenticationError(`Invalid API Key provided: ${maskKey(key)}`);
  }
  return key;
}

/** Stripe's style: the prefix and the last four characters. */
function maskKey(key: string): string {
  if (key.length <= 12) return '*'.repeat(key.length);
  return `${key.slice(0, 8)}${'*'.repeat(Math.min(20, key.length - 12))}${key.slice(-4)}`;
}

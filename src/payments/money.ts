// ISO 4217 currencies whose minor unit is not the cent (Stripe's list of zero-decimal and
// three-decimal currencies).
const ZERO_DECIMAL = new Set([
  'bif',
  'clp',
  'djf',
  'gnf',
  'jpy',
  'kmf',
  'krw',
  'mga',
  'pyg',
  'rwf',
  'ugx',
  'vnd',
  'vuv',
  'xaf',
  'xof',
  'xpf',
]);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function minorUnitExponent(currency: string): number {
  const code = currency.toLowerCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

/** Integer minor units to the major-unit number a browser shows (1999 usd → 19.99; 500 jpy → 500). */
export function toMajorUnits(amount: number, currency: string): number {
  const exponent = minorUnitExponent(currency);
  // Rounded to the currency's decimals so 1999/100 prints as 19.99, not 19.990000000000002.
  return Number((amount / 10 ** exponent).toFixed(exponent));
}

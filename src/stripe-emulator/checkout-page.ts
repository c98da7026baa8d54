import type { CheckoutSessionExtras, CheckoutSessionObject } from './objects.js';

/**
 * The page a Checkout Session's `url` opens: what is being bought, and one button per outcome,
 * which post to the admin endpoint a test would call. For trying a flow by hand in a browser.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

export function checkoutPage(session: CheckoutSessionObject, extras: CheckoutSessionExtras | undefined): string {
  const items = (extras?.lineItems ?? [])
    .map((item) => `<li>${item.quantity} × ${escapeHtml(item.description)} — ${money(item.amount_total, item.currency)}</li>`)
    .join('');
  const action = `/_emulator/checkout/sessions/${encodeURIComponent(session.id)}/complete`;
  const button = (outcome: string, label: string) =>
    `<form method="post" action="${action}"><input type="hidden" name="outcome" value="${outcome}"><input type="hidden" name="redirect" value="true"><button>${label}</button></form>`;
  const body =
    session.status === 'open'
      ? `${button('paid', 'Pay')}${button('async_succeeded', 'Pay later (succeeds)')}${button('async_failed', 'Pay later (fails)')}`
      : `<p>This session is ${escapeHtml(session.status)}.</p>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Checkout ${escapeHtml(session.id)}</title></head><body>
<h1>Stripe emulator checkout</h1><p>${escapeHtml(session.id)}</p><ul>${items}</ul>
<p>Total: ${money(session.amount_total, session.currency)}</p>${body}</body></html>`;
}

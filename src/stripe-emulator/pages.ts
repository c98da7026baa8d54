import type { ChargeObject, CheckoutSessionExtras, CheckoutSessionObject } from './objects.js';

/**
 * The HTML pages behind the URLs the emulator hands out, for trying a flow by hand in a browser:
 * a Checkout Session's `url` and a Charge's `receipt_url`.
 */

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

/** What is being bought, and one button per outcome, which post to the admin endpoint a test would call. */
export function checkoutPage(session: CheckoutSessionObject, extras: CheckoutSessionExtras | undefined): string {
  const items = (extras?.lineItems ?? [])
    .map((item) => `<li>${item.quantity} × ${escapeHtml(item.description ?? '')} — ${money(item.amount_total, item.currency)}</li>`)
    .join('');
  const action = `/_emulator/checkout/sessions/${encodeURIComponent(session.id)}/complete`;
  const button = (outcome: string, label: string) =>
    `<form method="post" action="${action}"><input type="hidden" name="outcome" value="${outcome}"><input type="hidden" name="redirect" value="true"><button>${label}</button></form>`;
  const body =
    session.status === 'open'
      ? `${button('paid', 'Pay')}${button('async_succeeded', 'Pay later (succeeds)')}${button('async_failed', 'Pay later (fails)')}`
      : `<p>This session is ${escapeHtml(session.status ?? 'closed')}.</p>`;
  return `<!doctype html><html><head><meta charset="utf-8"><title>Checkout ${escapeHtml(session.id)}</title></head><body>
<h1>Stripe emulator checkout</h1><p>${escapeHtml(session.id)}</p><ul>${items}</ul>
<p>Total: ${money(session.amount_total ?? 0, session.currency ?? '')}</p>${body}</body></html>`;
}

/** What a Charge's `receipt_url` shows: amount, card and refunds, like Stripe's emailed receipt. */
export function receiptPage(charge: ChargeObject): string {
  const card = charge.payment_method_details?.card;
  const refunded = charge.amount_refunded > 0 ? `<p>Refunded: ${money(charge.amount_refunded, charge.currency)}</p>` : '';
  return `<!doctype html><html><head><meta charset="utf-8"><title>Receipt ${escapeHtml(charge.id)}</title></head><body>
<h1>Stripe emulator receipt</h1><p>${escapeHtml(charge.id)}</p>
<p>Amount: ${money(charge.amount_captured || charge.amount, charge.currency)}</p>
<p>Paid with: ${escapeHtml(card ? `${card.brand ?? 'card'} •••• ${card.last4 ?? ''}` : 'card')}</p>${refunded}</body></html>`;
}

import type Stripe from 'stripe';
import { classifyStripeError } from './errors.js';
import { StripeGateway } from './gateway.js';

/**
 * What reconciliation reads from Stripe: its list APIs by `created` range (never Search, which can
 * lag by up to an hour), walked with the SDK's auto-pagination, newest first as Stripe lists them.
 * `range` is unix seconds, `from` inclusive and `to` exclusive, so consecutive days never overlap.
 */

export interface CreatedRange {
  from: number;
  to: number;
}

/** The idempotency key of the refund of a duplicate charge: one refund per PaymentIntent, however often asked. */
export const duplicateRefundKey = (paymentIntentId: string) => `re:dup:${paymentIntentId}`;

export class StripeReconcileReader {
  private readonly gateway: StripeGateway;

  constructor(
    private readonly stripe: Stripe,
    private readonly pageSize = 100,
  ) {
    this.gateway = new StripeGateway(stripe);
  }

  /** PaymentIntents created in the range, each with its latest Charge expanded (refunded amounts live there). */
  paymentIntents(range: CreatedRange): AsyncIterable<Stripe.PaymentIntent> {
    return this.walk(() =>
      this.stripe.paymentIntents.list({ created: { gte: range.from, lt: range.to }, limit: this.pageSize, expand: ['data.latest_charge'] }),
    );
  }

  checkoutSessions(range: CreatedRange): AsyncIterable<Stripe.Checkout.Session> {
    return this.walk(() => this.stripe.checkout.sessions.list({ created: { gte: range.from, lt: range.to }, limit: this.pageSize }));
  }

  refunds(range: CreatedRange): AsyncIterable<Stripe.Refund> {
    return this.walk(() => this.stripe.refunds.list({ created: { gte: range.from, lt: range.to }, limit: this.pageSize }));
  }

  /** One PaymentIntent with its latest Charge; undefined when Stripe has no such object. */
  async paymentIntent(id: string): Promise<Stripe.PaymentIntent | undefined> {
    return this.orMissing(() => this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }));
  }

  async checkoutSession(id: string): Promise<Stripe.Checkout.Session | undefined> {
    return this.orMissing(() => this.stripe.checkout.sessions.retrieve(id));
  }

  /** Gives back the money of a duplicate charge, once: the key makes every later ask the same refund. */
  refundDuplicate(aggregateId: string, paymentIntentId: string): Promise<Stripe.Refund> {
    return this.gateway.refund({ orderId: aggregateId, paymentIntentId, idempotencyKey: duplicateRefundKey(paymentIntentId) });
  }

  private async *walk<T>(list: () => Stripe.ApiListPromise<T>): AsyncIterable<T> {
    try {
      for await (const item of list()) yield item;
    } catch (error) {
      throw classifyStripeError(error);
    }
  }

  private async orMissing<T>(fetch: () => Promise<T>): Promise<T | undefined> {
    try {
      return await fetch();
    } catch (error) {
      const failure = classifyStripeError(error);
      if (failure.details.statusCode === 404 || failure.details.code === 'resource_missing') return undefined;
      throw failure;
    }
  }
}

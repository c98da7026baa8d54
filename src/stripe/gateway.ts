import type Stripe from 'stripe';
import { classifyStripeError, StripeGatewayError } from './errors.js';

/**
 * Deterministic idempotency keys from the business id: however often a payment is retried or
 * redelivered, Stripe sees one request per order (or trip) and charges at most once.
 */
export const IdempotencyKey = {
  paymentIntent: (orderId: string) => `pi:${orderId}`,
  checkoutSession: (tripId: string) => `cs:${tripId}`,
  refund: (orderId: string) => `re:${orderId}`,
} as const;

export interface ChargeRequest {
  orderId: string;
  /** integer minor units */
  amount: number;
  currency: string;
  paymentMethod: string;
  customer?: string;
  metadata?: Record<string, string>;
  /** default `pi:<orderId>`; see chargeOrderSafely for when another key is safe */
  idempotencyKey?: string;
}

export type ChargeOutcome =
  | { status: 'succeeded'; paymentIntentId: string; chargeId?: string }
  | { status: 'requires_action'; paymentIntentId: string }
  | { status: 'processing'; paymentIntentId: string }
  | { status: 'requires_confirmation'; paymentIntentId: string }
  | { status: 'declined'; paymentIntentId?: string; code?: string; declineCode?: string; message: string };

export interface CheckoutRequest {
  /** the business id the session is for; metadata carries it back on the webhook */
  tripId: string;
  amount: number;
  currency: string;
  productName: string;
  successUrl: string;
  cancelUrl: string;
  /** e.g. user_id, driver_id (ride share) or order_id (bookstore) */
  metadata?: Record<string, string>;
  /** default `cs:<tripId>` */
  idempotencyKey?: string;
}

/** A Checkout Session as created: where to send the customer. */
export interface CheckoutSession {
  sessionId: string;
  url: string;
  amountTotal: number;
  currency: string;
}

export interface RefundRequest {
  orderId: string;
  paymentIntentId: string;
  /** minor units; default the whole amount */
  amount?: number;
  /** default `re:<orderId>` */
  idempotencyKey?: string;
}

/**
 * The only code that talks to Stripe. Every write carries a deterministic idempotency key; every
 * failure comes out as a StripeGatewayError saying whether to retry, record a decline, wait for
 * the customer, or alert.
 */
export class StripeGateway {
  constructor(private readonly stripe: Stripe) {}

  /** Creates and confirms a PaymentIntent for an order. A decline is an outcome, not an error. */
  async chargeOrder(request: ChargeRequest): Promise<ChargeOutcome> {
    try {
      const intent = await this.stripe.paymentIntents.create(
        {
          amount: request.amount,
          currency: request.currency.toLowerCase(),
          payment_method: request.paymentMethod,
          // Confirmed server-side with a saved method: no redirect-based methods, so no return_url.
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          confirm: true,
          ...(request.customer ? { customer: request.customer } : {}),
          metadata: { ...request.metadata, order_id: request.orderId },
        },
        { idempotencyKey: request.idempotencyKey ?? IdempotencyKey.paymentIntent(request.orderId) },
      );
      return chargeOutcomeOf(intent);
    } catch (error) {
      return this.chargeFailure(error);
    }
  }

  /** Confirms a PaymentIntent that was created but never confirmed. */
  async confirmPaymentIntent(id: string, idempotencyKey: string): Promise<ChargeOutcome> {
    try {
      return chargeOutcomeOf(await this.stripe.paymentIntents.confirm(id, {}, { idempotencyKey }));
    } catch (error) {
      return this.chargeFailure(error);
    }
  }

  /** A decline is an outcome and 3-D Secure a wait; anything else is thrown, classified. */
  private chargeFailure(error: unknown): ChargeOutcome {
    const failure = classifyStripeError(error);
    if (failure.kind === 'declined') {
      return {
        status: 'declined',
        paymentIntentId: failure.details.paymentIntentId,
        code: failure.details.code,
        declineCode: failure.details.declineCode,
        message: failure.message,
      };
    }
    if (failure.kind === 'action_required' && failure.details.paymentIntentId) {
      return { status: 'requires_action', paymentIntentId: failure.details.paymentIntentId };
    }
    throw failure;
  }

  /** A hosted Checkout Session in payment mode; its metadata comes back on the webhook. */
  async createCheckoutSession(request: CheckoutRequest): Promise<CheckoutSession> {
    const metadata = { ...request.metadata, trip_id: request.tripId };
    try {
      const session = await this.stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: request.currency.toLowerCase(),
                unit_amount: request.amount,
                product_data: { name: request.productName },
              },
            },
          ],
          success_url: request.successUrl,
          cancel_url: request.cancelUrl,
          client_reference_id: request.tripId,
          metadata,
          payment_intent_data: { metadata },
        },
        { idempotencyKey: request.idempotencyKey ?? IdempotencyKey.checkoutSession(request.tripId) },
      );
      if (!session.url) throw new StripeGatewayError('invalid', `Checkout Session ${session.id} has no url`);
      return {
        sessionId: session.id,
        url: session.url,
        amountTotal: session.amount_total ?? request.amount,
        currency: session.currency ?? request.currency,
      };
    } catch (error) {
      throw classifyStripeError(error);
    }
  }

  async refund(request: RefundRequest): Promise<Stripe.Refund> {
    try {
      return await this.stripe.refunds.create(
        {
          payment_intent: request.paymentIntentId,
          ...(request.amount !== undefined ? { amount: request.amount } : {}),
          metadata: { order_id: request.orderId },
        },
        { idempotencyKey: request.idempotencyKey ?? IdempotencyKey.refund(request.orderId) },
      );
    } catch (error) {
      throw classifyStripeError(error);
    }
  }

  /**
   * The PaymentIntent created for an order (metadata.order_id), if any, among those created since
   * `createdFrom` (unix seconds). Lists rather than searches: Stripe's search is eventually
   * consistent, and a miss here would let a second charge through. Throws a retryable error when
   * more than `maxScanned` candidates leave the answer unproven.
   */
  async findPaymentIntentForOrder(
    orderId: string,
    options: { createdFrom: number; customer?: string; maxScanned?: number },
  ): Promise<Stripe.PaymentIntent | undefined> {
    const maxScanned = options.maxScanned ?? 10_000;
    return this.call(async () => {
      let scanned = 0;
      for await (const intent of this.stripe.paymentIntents.list({
        created: { gte: options.createdFrom },
        limit: 100,
        ...(options.customer ? { customer: options.customer } : {}),
      })) {
        if (intent.metadata?.order_id === orderId) return intent;
        if (++scanned >= maxScanned) {
          throw new StripeGatewayError(
            'retryable',
            `looked through ${scanned} PaymentIntents without finding order ${orderId}; cannot prove it was never charged`,
          );
        }
      }
      return undefined;
    });
  }

  async cancelPaymentIntent(id: string): Promise<Stripe.PaymentIntent> {
    return this.call(() => this.stripe.paymentIntents.cancel(id));
  }

  async expireCheckoutSession(id: string): Promise<Stripe.Checkout.Session> {
    return this.call(() => this.stripe.checkout.sessions.expire(id));
  }

  /** The refund already made for a PaymentIntent, if any (pending or succeeded). */
  async findRefund(paymentIntentId: string): Promise<Stripe.Refund | undefined> {
    return this.call(async () => {
      const { data } = await this.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 });
      return data.find((refund) => refund.status === 'succeeded' || refund.status === 'pending');
    });
  }

  async retrievePaymentIntent(id: string): Promise<Stripe.PaymentIntent> {
    return this.call(() => this.stripe.paymentIntents.retrieve(id, { expand: ['latest_charge'] }));
  }

  async retrieveCheckoutSession(id: string): Promise<Stripe.Checkout.Session> {
    return this.call(() => this.stripe.checkout.sessions.retrieve(id, { expand: ['payment_intent'] }));
  }

  /** PaymentIntents created in [from, to] (unix seconds), across pages, at most 10,000 (the SDK's cap): for reconciliation. */
  async listPaymentIntents(range: { from: number; to: number }, pageSize = 100): Promise<Stripe.PaymentIntent[]> {
    return this.call(() =>
      this.stripe.paymentIntents
        .list({ created: { gte: range.from, lte: range.to }, limit: pageSize })
        .autoPagingToArray({ limit: 10_000 }),
    );
  }

  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw classifyStripeError(error);
    }
  }
}

/** What a PaymentIntent's state means for the order it charges. */
export function chargeOutcomeOf(intent: Stripe.PaymentIntent): ChargeOutcome {
  const chargeId = typeof intent.latest_charge === 'string' ? intent.latest_charge : intent.latest_charge?.id;
  switch (intent.status) {
    case 'succeeded':
    case 'requires_capture':
      return { status: 'succeeded', paymentIntentId: intent.id, ...(chargeId ? { chargeId } : {}) };
    case 'requires_action':
      return { status: 'requires_action', paymentIntentId: intent.id };
    case 'processing':
      return { status: 'processing', paymentIntentId: intent.id };
    case 'requires_confirmation':
      return { status: 'requires_confirmation', paymentIntentId: intent.id };
    default: {
      const error = intent.last_payment_error;
      return {
        status: 'declined',
        paymentIntentId: intent.id,
        code: error?.code,
        declineCode: error?.decline_code,
        message: error?.message ?? `PaymentIntent ended in status ${intent.status}`,
      };
    }
  }
}

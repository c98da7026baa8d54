-- Per-user transaction history (the ride-share seed's GET /api/finance/me): one entry per
-- payments.completed (charge), payments.refunded (refund) and payments.failed (failed) event,
-- appended by the worker's history handler in the same transaction as its inbox row.
CREATE TABLE transactions (
  id                          bigserial   PRIMARY KEY,
  -- the CloudEvents id of the event the entry was made from: one entry per event
  event_id                    text        NOT NULL UNIQUE,
  user_id                     text        NOT NULL,
  -- the order or trip
  aggregate_id                text        NOT NULL,
  kind                        text        NOT NULL CHECK (kind IN ('charge', 'refund', 'failed')),
  -- minor units, always positive: the kind says which way the money went
  amount                      bigint      NOT NULL CHECK (amount >= 0),
  currency                    text        NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  stripe_payment_intent_id    text,
  stripe_charge_id            text,
  stripe_refund_id            text,
  stripe_checkout_session_id  text,
  failure_reason              text,
  occurred_at                 timestamptz NOT NULL,
  recorded_at                 timestamptz NOT NULL DEFAULT now()
);

-- Money moves once per order or trip each way: a second announcement of the same charge or
-- refund (another event id) must not show the user a second entry.
CREATE UNIQUE INDEX transactions_one_charge_or_refund ON transactions (aggregate_id, kind) WHERE kind IN ('charge', 'refund');

-- The read path: one user's entries, newest first, paged by (occurred_at, id).
CREATE INDEX transactions_by_user ON transactions (user_id, occurred_at DESC, id DESC);

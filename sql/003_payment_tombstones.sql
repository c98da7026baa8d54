-- A cancellation can overtake the payment it cancels (orders.cancelled processed before
-- orders.placed). The saga then records a 'cancelled' row before any charge exists, so the later
-- charge attempt sees it and does not take the money. Such a row knows no amount yet.
ALTER TABLE payments
  ALTER COLUMN amount DROP NOT NULL,
  ALTER COLUMN currency DROP NOT NULL,
  ALTER COLUMN idempotency_key DROP NOT NULL,
  ADD CONSTRAINT payments_known_unless_cancelled
    CHECK (status = 'cancelled' OR (amount IS NOT NULL AND currency IS NOT NULL AND idempotency_key IS NOT NULL));

-- paymentsctl initial schema: outbox, payments, inbox (processed_messages), webhook_events.
-- Applied by `paymentsctl migrate` in one transaction, recorded with its checksum.

-- Transactional outbox: the application inserts here in the same transaction as its state change;
-- publish-outbox moves rows to Kafka and marks them published.
CREATE TABLE outbox (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  event_id      uuid        NOT NULL DEFAULT gen_random_uuid() UNIQUE,
  topic         text        NOT NULL CHECK (topic <> ''),
  key           text        NOT NULL,
  type          text        NOT NULL CHECK (type <> ''),
  payload       jsonb       NOT NULL,
  headers       jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  published_at  timestamptz,
  attempts      integer     NOT NULL DEFAULT 0,
  last_error    text
);

-- The publisher only ever scans unpublished rows of its topic, in id order; this stays small.
-- (No index on published_at: marking a row published would have to update it too, and retention
-- finds old published rows from the start of the primary key, where they are.)
CREATE INDEX outbox_unpublished ON outbox (topic, id) WHERE published_at IS NULL;

-- One NOTIFY per inserting statement and topic (not per row) wakes the publisher at once;
-- Postgres delivers it only when the inserting transaction commits.
CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('paymentsctl_outbox', t.topic) FROM (SELECT DISTINCT topic FROM inserted) AS t;
  RETURN NULL;
END;
$$;

CREATE TRIGGER outbox_notify
  AFTER INSERT ON outbox
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- One row per order or trip (the aggregate); amounts in integer minor units.
CREATE TABLE payments (
  aggregate_id                text        PRIMARY KEY,
  kind                        text        NOT NULL CHECK (kind IN ('payment_intent', 'checkout_session')),
  status                      text        NOT NULL DEFAULT 'pending'
                              CHECK (status IN ('pending', 'requires_action', 'succeeded', 'failed', 'cancelled', 'refunded')),
  amount                      bigint      NOT NULL CHECK (amount >= 0),
  currency                    text        NOT NULL CHECK (currency ~ '^[a-z]{3}$'),
  idempotency_key             text        NOT NULL,
  stripe_payment_intent_id    text,
  stripe_checkout_session_id  text,
  stripe_refund_id            text,
  failure_code                text,
  failure_message             text,
  metadata                    jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at                  timestamptz NOT NULL DEFAULT now(),
  updated_at                  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX payments_status ON payments (status);
CREATE UNIQUE INDEX payments_payment_intent ON payments (stripe_payment_intent_id) WHERE stripe_payment_intent_id IS NOT NULL;
CREATE UNIQUE INDEX payments_checkout_session ON payments (stripe_checkout_session_id) WHERE stripe_checkout_session_id IS NOT NULL;

-- Inbox: a consumer records each message id in the same transaction as its effect, so a
-- redelivered message is recognised and skipped.
CREATE TABLE processed_messages (
  consumer      text        NOT NULL,
  message_id    text        NOT NULL,
  processed_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (consumer, message_id)
);

CREATE INDEX processed_messages_processed_at ON processed_messages (processed_at);

-- Stripe retries webhooks; the event id makes a second delivery a no-op.
CREATE TABLE webhook_events (
  stripe_event_id  text        PRIMARY KEY,
  type             text        NOT NULL,
  received_at      timestamptz NOT NULL DEFAULT now(),
  outcome          text        NOT NULL,
  payload          jsonb       NOT NULL
);

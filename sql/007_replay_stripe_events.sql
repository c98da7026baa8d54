-- What `replay stripe-events --execute` did with each Stripe event it took: fed it through the
-- webhook receiver's own processing (outcome as webhook_events records it, or duplicate when the
-- receiver had it meanwhile), or asked Stripe to deliver it again (resend), or failed (error).
CREATE TABLE replay_stripe_events (
  replay_id    bigint      NOT NULL REFERENCES replays (id),
  event_id     text        NOT NULL,
  type         text        NOT NULL,
  -- the event's own time at Stripe
  created      timestamptz NOT NULL,
  action       text        NOT NULL CHECK (action IN ('feed', 'resend')),
  outcome      text        NOT NULL,
  error        text,
  recorded_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (replay_id, event_id)
);

CREATE INDEX replay_stripe_events_by_event ON replay_stripe_events (event_id);

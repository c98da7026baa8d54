-- Bookkeeping of `paymentsctl replay`: one row per run that acts (--execute), one row per message
-- it sends, so a stopped run can be started again without sending anything twice, and a message
-- already replayed is skipped unless asked again.
CREATE TABLE replays (
  id           bigserial   PRIMARY KEY,
  source       text        NOT NULL CHECK (source IN ('dlq', 'outbox', 'stripe-events')),
  -- who ran it: the operating-system user and host
  os_user      text        NOT NULL,
  host         text        NOT NULL,
  -- the filters and destination as given, for `replay show`
  selection    jsonb       NOT NULL,
  status       text        NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
  selected     integer     NOT NULL DEFAULT 0,
  replayed     integer     NOT NULL DEFAULT 0,
  skipped      integer     NOT NULL DEFAULT 0,
  failed       integer     NOT NULL DEFAULT 0,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);

CREATE INDEX replays_by_start ON replays (started_at DESC, id DESC);

CREATE TABLE replay_messages (
  replay_id              bigint      NOT NULL REFERENCES replays (id),
  -- where the message was read: a dead-letter topic, partition and offset
  source_topic           text        NOT NULL,
  source_partition       integer     NOT NULL,
  source_offset          bigint      NOT NULL,
  -- its CloudEvents id, when it has one
  event_id               text,
  destination_topic      text        NOT NULL,
  -- known once the broker acknowledged the copy
  destination_partition  integer,
  destination_offset     bigint,
  -- sending: written before the send, so a run killed mid-send leaves a trace; sent: acknowledged
  status                 text        NOT NULL CHECK (status IN ('sending', 'sent', 'failed')),
  error                  text,
  recorded_at            timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (replay_id, source_topic, source_partition, source_offset)
);

-- "already replayed?" is asked by source position.
CREATE INDEX replay_messages_by_source ON replay_messages (source_topic, source_partition, source_offset);

-- What `replay outbox --execute` did to each outbox row: reset (the publisher tries it again),
-- discard (moved to outbox_discarded), or republish (an event already published sent again, with
-- the same event id, for a downstream that lost data), with the error or publish time it had.
CREATE TABLE replay_outbox_rows (
  replay_id       bigint      NOT NULL REFERENCES replays (id),
  outbox_id       bigint      NOT NULL,
  event_id        uuid        NOT NULL,
  topic           text        NOT NULL,
  key             text        NOT NULL,
  action          text        NOT NULL CHECK (action IN ('reset', 'discard', 'republish')),
  previous_error         text,
  previous_published_at  timestamptz,
  recorded_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (replay_id, outbox_id)
);

-- Outbox rows an operator discarded: kept whole, with why and by which run, never deleted. Out of
-- the outbox itself, so they no longer hold back the later events of their key.
CREATE TABLE outbox_discarded (
  id            bigint      PRIMARY KEY,
  event_id      uuid        NOT NULL UNIQUE,
  topic         text        NOT NULL,
  key           text        NOT NULL,
  type          text        NOT NULL,
  payload       jsonb       NOT NULL,
  headers       jsonb       NOT NULL,
  created_at    timestamptz NOT NULL,
  attempts      integer     NOT NULL,
  last_error    text,
  reason        text        NOT NULL CHECK (reason <> ''),
  replay_id     bigint      NOT NULL REFERENCES replays (id),
  discarded_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-key commit order for the outbox, and what the publisher needs to hold it.
--
-- The publisher sends rows in id order. Ids come from a sequence at insert time, but transactions
-- commit in any order, so two concurrent transactions writing events of the same key could commit
-- in the opposite order of their ids. This trigger takes a transaction-scoped advisory lock on
-- (topic, key) BEFORE it draws the id: a second transaction writing the same key waits until the
-- first commits or rolls back, so for any one key id order is commit order. Different keys never
-- wait for each other (up to hash collisions, which only serialise, never reorder).

ALTER TABLE outbox ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE outbox_id_seq AS bigint OWNED BY outbox.id;
SELECT setval('outbox_id_seq', coalesce((SELECT max(id) FROM outbox), 0) + 1, false);

CREATE FUNCTION outbox_sequence_per_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- 1885436270 = 0x7061796E, the namespace of these locks (see src/db/locks.ts).
  PERFORM pg_advisory_xact_lock(1885436270, hashtext(NEW.topic || E'\n' || NEW.key));
  NEW.id := nextval('outbox_id_seq');
  RETURN NEW;
END;
$$;

CREATE TRIGGER outbox_sequence_per_key
  BEFORE INSERT ON outbox
  FOR EACH ROW EXECUTE FUNCTION outbox_sequence_per_key();

-- A row Kafka rejected for good (last_error set, still unpublished) holds back the later rows of
-- its key until an operator deals with it; this index makes that check cheap (usually empty).
CREATE INDEX outbox_blocked ON outbox (topic, key, id) WHERE published_at IS NULL AND last_error IS NOT NULL;

-- Leadership terms: every time a publisher becomes the active one for a topic it draws a term;
-- published messages carry it, so a consumer can verify leaders never overlapped.
CREATE SEQUENCE outbox_leader_term AS bigint;

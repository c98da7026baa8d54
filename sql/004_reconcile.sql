-- Reconciliation (paymentsctl reconcile): where a long window's walk stopped, and what each repair did.
--
-- A window is walked one day at a time. Each finished day is recorded with the discrepancies it
-- found, so a run that was stopped (a CronJob deadline, a crash, Ctrl-C) resumes with the next day
-- and still reports the days already walked. A run that finishes removes its days.
CREATE TABLE reconcile_runs (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- what the operator asked for (e.g. "since=…,until=…", "last=86400s", "all") and how (dry run, --execute):
  -- a new run with the same spec and mode resumes an unfinished one
  window_spec  text        NOT NULL,
  mode         text        NOT NULL,
  since        timestamptz NOT NULL,
  until        timestamptz NOT NULL,
  started_at   timestamptz NOT NULL DEFAULT now(),
  finished_at  timestamptz
);

CREATE INDEX reconcile_runs_unfinished ON reconcile_runs (window_spec, mode) WHERE finished_at IS NULL;

CREATE TABLE reconcile_days (
  run_id         bigint      NOT NULL REFERENCES reconcile_runs (id) ON DELETE CASCADE,
  day_start      timestamptz NOT NULL,
  discrepancies  jsonb       NOT NULL,
  repairs        jsonb       NOT NULL DEFAULT '[]'::jsonb,
  finished_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, day_start)
);

-- Every repair reconciliation made, kept for the audit trail: which row, why, what it did at
-- Stripe (a duplicate refunded) and which outbox events it wrote in the same transaction.
CREATE TABLE reconcile_repairs (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  aggregate_id   text        NOT NULL,
  code           text        NOT NULL,
  action         text        NOT NULL,
  stripe_object  text,
  event_ids      uuid[]      NOT NULL DEFAULT '{}',
  repaired_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX reconcile_repairs_aggregate ON reconcile_repairs (aggregate_id);

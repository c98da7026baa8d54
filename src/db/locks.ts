/**
 * Advisory lock keys. The two-int form keeps our locks in namespaces of their own, away from any
 * the application takes on the same database.
 */
export const LOCK_NAMESPACE = 0x7061796d; // "paym": process-level locks below

export const LockKey = {
  migrate: 1,
} as const;

/** Session locks, one per topic: held by the active outbox publisher of that topic. */
export const PUBLISHER_LOCK_NAMESPACE = 0x7061796f; // "payo"

/** Transaction locks on (topic, key), taken by the outbox insert trigger (sql/002). */
export const OUTBOX_KEY_LOCK_NAMESPACE = 0x7061796e; // "payn"

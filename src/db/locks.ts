/**
 * Advisory lock keys. The two-int form keeps our locks in a namespace of their own, away from
 * any the application takes on the same database.
 */
export const LOCK_NAMESPACE = 0x7061796d; // "paym"

export const LockKey = {
  migrate: 1,
} as const;

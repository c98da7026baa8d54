/** How big the incident `dev --incident` stages is (apart from the rest so `--help` reads it without loading the run). */

/** payments dead-lettered while Stripe refused them */
export const INCIDENT_DEAD_LETTERS = 3;
/** share of webhook deliveries the emulator drops while orders flow */
export const INCIDENT_DROP_RATE = 0.3;

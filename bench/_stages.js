// Per-event stage latencies from the publisher's --trace-stages file, joined with the bench's own
// commit times and the consumer's arrival times, so the tail is explained by data.
import { percentile } from './_stack.js';

const STAGES = {
  'commit → NOTIFY received': (s) => (s.woken === undefined ? undefined : s.woken - s.committed),
  'NOTIFY → claim started (linger, previous send)': (s) =>
    s.woken === undefined ? undefined : s.claimStarted - Math.max(s.woken, s.committed),
  'commit → claim started': (s) => s.claimStarted - s.committed,
  'claim (SELECT)': (s) => s.claimed - s.claimStarted,
  'claimed → send started': (s) => s.sendStarted - s.claimed,
  'send → acknowledged': (s) => s.acknowledged - s.sendStarted,
  'acknowledged → marked': (s) => s.marked - s.acknowledged,
  'acknowledged → visible to the consumer': (s) => s.visible - s.acknowledged,
  'commit → visible': (s) => s.visible - s.committed,
};

export function stageFigures(trace, eventIds, committedAt, visibleAt) {
  const batchOf = new Map();
  let requests = 0;
  let events = 0;
  for (const batch of trace) {
    for (const id of batch.eventIds) batchOf.set(id, batch);
  }
  const measured = new Set();
  const values = Object.fromEntries(Object.keys(STAGES).map((name) => [name, []]));
  for (const id of eventIds) {
    const batch = batchOf.get(id);
    if (!batch || !visibleAt.has(id)) continue;
    if (!measured.has(batch)) {
      measured.add(batch);
      requests += batch.requests;
      events += batch.eventIds.length;
    }
    const sample = { ...batch, committed: committedAt.get(id), visible: visibleAt.get(id) };
    for (const [name, stage] of Object.entries(STAGES)) {
      const value = stage(sample);
      // The NOTIFY can reach the publisher before COMMIT's reply reaches the bench.
      if (value !== undefined) values[name].push(Math.max(0, value));
    }
  }
  const stages = {};
  for (const [name, list] of Object.entries(values)) {
    list.sort((a, b) => a - b);
    stages[name] = { p50: round(percentile(list, 50)), p99: round(percentile(list, 99)), samples: list.length };
  }
  return { stages, requests, eventsPerRequest: requests ? Number((events / requests).toFixed(2)) : null };
}

const round = (n) => Number(n.toFixed(2));

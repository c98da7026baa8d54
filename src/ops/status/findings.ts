import type { SchemaVerdict } from '../../migrate/schema.js';
import type { StatusReport, Finding, StatusThresholds } from './report.js';

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;
const minutes = (ms: number) => (ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : seconds(ms));

type Sections = Pick<
  StatusReport,
  'schema' | 'outbox' | 'publisher' | 'consumers' | 'retries' | 'deadLetters' | 'payments' | 'webhooks' | 'stripe'
>;

/** Every threshold the pipeline's state crosses, as findings (pure: the same state, the same findings). */
export function findingsOf(state: Sections, thresholds: StatusThresholds): Finding[] {
  const findings: Finding[] = [];
  if (state.schema && state.schema.state !== 'current') {
    findings.push({
      section: 'schema',
      kind: `schema_${state.schema.state}`,
      message: `schema: ${schemaProblem(state.schema)}`,
      value: state.schema.at ?? 'none',
    });
  }
  for (const topic of state.outbox?.topics ?? []) {
    if (topic.oldestUnpublishedMs !== null && topic.unpublished > 0 && topic.oldestUnpublishedMs > thresholds.maxOutboxAgeMs) {
      findings.push({
        section: 'outbox',
        kind: 'outbox_oldest_unpublished',
        message: `outbox: ${topic.unpublished} unpublished on ${topic.topic}, the oldest ${minutes(topic.oldestUnpublishedMs)} old`,
        value: topic.oldestUnpublishedMs,
        threshold: thresholds.maxOutboxAgeMs,
      });
    }
    if (topic.setAside > 0) {
      findings.push({
        section: 'outbox',
        kind: 'outbox_set_aside',
        message: `outbox: ${topic.setAside} row(s) of ${topic.topic} set aside by the publisher (Kafka refused them); they hold back their keys`,
        value: topic.setAside,
        threshold: 0,
      });
    }
  }
  for (const { topic, leader } of state.publisher?.leaders ?? []) {
    if (!leader)
      findings.push({
        section: 'publisher',
        kind: 'publisher_no_leader',
        message: `publisher: no instance leads ${topic}; nothing publishes it`,
      });
  }
  for (const group of state.consumers ?? []) {
    if (group.members.length === 0) {
      findings.push({
        section: 'consumers',
        kind: 'consumer_no_members',
        message: `consumers: group ${group.groupId} has no members (${group.state}); nothing consumes its topics`,
        value: group.lag,
      });
    }
    for (const p of group.partitions) {
      if (p.verdict === 'OK') continue;
      findings.push({
        section: 'consumers',
        kind: `consumer_${p.verdict.toLowerCase()}`,
        message: `consumers: group ${group.groupId} ${p.verdict} on ${p.topic}/${p.partition}: ${p.why}`,
        value: p.lag,
      });
    }
    if (thresholds.maxTimeLagMs > 0 && group.maxTimeLagMs !== null && group.maxTimeLagMs > thresholds.maxTimeLagMs) {
      findings.push({
        section: 'consumers',
        kind: 'consumer_time_lag',
        message: `consumers: group ${group.groupId} is ${minutes(group.maxTimeLagMs)} behind (age of the next message it will read)`,
        value: group.maxTimeLagMs,
        threshold: thresholds.maxTimeLagMs,
      });
    }
  }
  for (const dlq of state.deadLetters ?? []) {
    const waiting = dlq.depth - (dlq.replayed ?? 0);
    if (waiting > thresholds.maxDeadLetters) {
      const reasons = Object.entries(dlq.reasons)
        .sort((a, b) => b[1] - a[1])
        .map(([reason, n]) => `${reason} ×${n}`)
        .join(', ');
      findings.push({
        section: 'deadLetters',
        kind: 'dead_letters',
        message: `dead letters: ${waiting} in ${dlq.topic}${dlq.replayed ? ` not replayed (${dlq.depth} held)` : ''}${reasons ? ` (${reasons})` : ''}`,
        value: waiting,
        threshold: thresholds.maxDeadLetters,
      });
    }
  }
  const payments = state.payments;
  if (payments && payments.stuckCount > 0) {
    const oldest = payments.stuck[0];
    findings.push({
      section: 'payments',
      kind: 'payments_stuck',
      message: `payments: ${payments.stuckCount} pending or requires_action longer than ${minutes(thresholds.maxPendingMs)}${
        oldest ? `; oldest ${oldest.aggregateId} (${oldest.status}, ${minutes(oldest.ageMs)})` : ''
      }`,
      value: payments.stuckCount,
      threshold: thresholds.maxPendingMs,
    });
  }
  const silence = state.webhooks?.lastReceivedAgeMs;
  if (thresholds.maxWebhookSilenceMs > 0 && state.webhooks && (silence === null || (silence ?? 0) > thresholds.maxWebhookSilenceMs)) {
    findings.push({
      section: 'webhooks',
      kind: 'webhooks_silent',
      message: silence === null ? 'webhooks: no Stripe event ever received' : `webhooks: no Stripe event for ${minutes(silence ?? 0)}`,
      value: silence ?? 'never',
      threshold: thresholds.maxWebhookSilenceMs,
    });
  }
  if (state.stripe.configured && state.stripe.reachable === false) {
    findings.push({ section: 'stripe', kind: 'stripe_unreachable', message: `stripe: unreachable: ${state.stripe.error ?? 'no answer'}` });
  }
  return findings;
}

function schemaProblem(schema: Exclude<SchemaVerdict, { state: 'current' }>): string {
  const at = schema.at ?? 'no migrations';
  switch (schema.state) {
    case 'behind':
      return `at ${at}, this binary needs ${schema.needs} (${schema.pending.length} pending): run \`paymentsctl migrate\``;
    case 'ahead':
      return `at ${at}, newer than this binary knows (${schema.unknown.join(', ')}): an older image runs against it`;
    case 'drifted':
      return `applied migrations changed since they were applied: ${schema.drifted.join(', ')}`;
  }
}

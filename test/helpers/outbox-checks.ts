import type { ConsumedMessage } from './kafka.js';
import { TERM_HEADER } from '../../src/outbox/envelope.js';

export interface DeliveryReport {
  distinct: number;
  duplicates: number;
  missing: string[];
  /** keys whose events' first deliveries are out of `seq` order */
  outOfOrderKeys: string[];
  /** partitions where a message of an older leader term follows one of a newer term */
  overlappingTerms: number[];
  terms: string[];
}

/**
 * What the topic shows: every expected event id delivered, per-key order of first deliveries by
 * the `seq` field of the data, and leader terms that never go back within a partition.
 */
export function inspectDelivery(messages: ConsumedMessage[], expectedIds: Iterable<string>): DeliveryReport {
  const seen = new Set<string>();
  let duplicates = 0;
  const lastSeqByKey = new Map<string, number>();
  const outOfOrder = new Set<string>();
  const lastTermByPartition = new Map<number, bigint>();
  const overlapping = new Set<number>();
  const terms = new Set<string>();
  for (const message of messages) {
    const id = message.headers.ce_id!;
    const term = BigInt(message.headers[TERM_HEADER]!);
    terms.add(term.toString());
    const previousTerm = lastTermByPartition.get(message.partition);
    if (previousTerm !== undefined && term < previousTerm) overlapping.add(message.partition);
    lastTermByPartition.set(message.partition, term);
    if (seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    const seq = (JSON.parse(message.value) as { seq: number }).seq;
    const last = lastSeqByKey.get(message.key);
    if (last !== undefined && seq <= last) outOfOrder.add(message.key);
    lastSeqByKey.set(message.key, seq);
  }
  const missing = [...expectedIds].filter((id) => !seen.has(id));
  return {
    distinct: seen.size,
    duplicates,
    missing,
    outOfOrderKeys: [...outOfOrder],
    overlappingTerms: [...overlapping],
    terms: [...terms].sort((a, b) => Number(BigInt(a) - BigInt(b))),
  };
}

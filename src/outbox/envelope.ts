/**
 * CloudEvents 1.0 Kafka protocol binding, binary content mode: the attributes travel as `ce_*`
 * headers and the Kafka value is the JSON data itself.
 */

export const DEFAULT_SOURCE = 'paymentsctl';

export interface OutboxRow {
  id: string;
  eventId: string;
  key: string;
  type: string;
  /** the JSON data as text, exactly as stored */
  payload: string;
  headers: Record<string, string>;
  createdAt: Date;
}

/** Headers the publisher adds so a consumer can tell which leader term published a message. */
export const PUBLISHER_HEADER = 'paymentsctl_publisher';
export const TERM_HEADER = 'paymentsctl_term';

export function cloudEventHeaders(row: OutboxRow, publisher: { instance: string; term: string }): Record<string, string> {
  const { ce_source, ...extra } = row.headers;
  return {
    ...extra,
    ce_specversion: '1.0',
    ce_id: row.eventId,
    ce_type: row.type,
    ce_source: ce_source ?? DEFAULT_SOURCE,
    ce_time: row.createdAt.toISOString(),
    'content-type': 'application/json',
    [PUBLISHER_HEADER]: publisher.instance,
    [TERM_HEADER]: publisher.term,
  };
}

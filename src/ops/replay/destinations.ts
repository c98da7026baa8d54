import { Topics } from '../../contracts.js';
import { CONSUMED_TOPICS } from '../../kafka/topics.js';

/**
 * Where a replay may write: the pipeline's own topics and the retry topics of those a worker
 * consumes — never a dead-letter topic (a loop) nor anything else on the cluster.
 */
export function isAllowedDestination(topic: string, prefix: string): boolean {
  if (!topic.startsWith(prefix)) return false;
  const name = topic.slice(prefix.length);
  if ((Object.values(Topics) as string[]).includes(name)) return true;
  const retry = /^(.+)\.retry\.(\d+)$/.exec(name);
  return retry !== null && CONSUMED_TOPICS.includes(retry[1]!) && Number(retry[2]) >= 1;
}

/** What --help and the refusal list: the topics a replay may write to, without the prefix. */
export function allowedDestinationsText(): string {
  return [...Object.values(Topics), ...CONSUMED_TOPICS.map((t) => `${t}.retry.<n>`)].join(', ');
}

/** The dead-letter topic of each consumed topic, with the prefix: what `replay dlq` reads. */
export function deadLetterTopics(prefix: string): string[] {
  return CONSUMED_TOPICS.map((topic) => `${prefix}${topic}.dlq`);
}

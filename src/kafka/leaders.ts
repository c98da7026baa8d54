import { setTimeout as sleep } from 'node:timers/promises';
import type { Admin } from 'kafkajs';
import { UnavailableError, errorMessage } from '../errors.js';

/**
 * Waits until every partition of the topics has a leader that answers for it. kafkajs's own
 * `waitForLeaders` gives up on a busy broker with "This server does not host this topic-partition"
 * (the controller has created the topic but the broker has not loaded it yet), so this polls
 * metadata and then the partitions' offsets, which only their leader can answer.
 */
export async function waitForTopicLeaders(admin: Admin, topics: readonly string[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastProblem = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [...topics] });
      const leaderless = metadata.topics.flatMap((t) => t.partitions.filter((p) => p.leader < 0).map((p) => `${t.name}[${p.partitionId}]`));
      if (leaderless.length === 0) {
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
      lastProblem = `no leader yet for ${leaderless.slice(0, 5).join(', ')}`;
    } catch (error) {
      lastProblem = errorMessage(error);
    }
    await sleep(200);
  }
  throw new UnavailableError(`topics created but their partitions have no leader after ${Math.round(timeoutMs / 1000)} s: ${lastProblem}`, {
    hint: 'check the brokers are healthy (their logs name the partitions they cannot load)',
  });
}

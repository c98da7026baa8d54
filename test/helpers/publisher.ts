import { setTimeout as sleep } from 'node:timers/promises';
import { startRole, type RoleProcess } from './roles.js';

export interface PublisherProcess extends RoleProcess {
  isLeader: (topic: string) => Promise<boolean>;
}

/** Runs `paymentsctl publish-outbox` as its own process, the way it runs in a container. */
export async function startPublisher(
  env: { DATABASE_URL: string; KAFKA_BROKERS: string; KAFKA_TOPIC_PREFIX: string },
  args: string[] = [],
): Promise<PublisherProcess> {
  const role = await startRole('publish-outbox', env, args);
  return {
    ...role,
    isLeader: async (topic) =>
      new RegExp(`paymentsctl_outbox_leader\\{topic="${topic.replace(/\./g, '\\.')}"[^}]*\\} 1`).test(await role.metrics()),
  };
}

/** Polls until `predicate` holds, failing with `what` after `timeoutMs`. */
export async function waitFor(what: string, predicate: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

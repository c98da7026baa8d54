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

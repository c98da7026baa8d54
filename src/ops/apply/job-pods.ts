import type { KubeClient } from './kube-client.js';

interface ContainerStatus {
  name: string;
  state?: { terminated?: { exitCode?: number; reason?: string }; waiting?: { reason?: string; message?: string } };
  lastState?: { terminated?: { exitCode?: number; reason?: string } };
}

interface Pod {
  metadata: { name: string; creationTimestamp?: string };
  status?: {
    phase?: string;
    initContainerStatuses?: ContainerStatus[];
    containerStatuses?: ContainerStatus[];
    conditions?: { type: string; status: string; message?: string }[];
  };
}

/**
 * Why a Job's pod did not succeed, for the operator: the last log lines of the container that
 * exited non-zero (init containers first: `topics ensure` runs before `migrate`), else the reason a
 * container never started (a missing Secret, an image that cannot be pulled), else why it is not scheduled.
 */
export async function jobPodDiagnosis(client: KubeClient, namespace: string, jobName: string, tailLines = 20): Promise<string | undefined> {
  const base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  const list = await client.get<{ items: Pod[] }>(`${base}?labelSelector=${encodeURIComponent(`job-name=${jobName}`)}`);
  const pods = [...(list?.items ?? [])].sort((a, b) =>
    (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''),
  );
  for (const pod of pods) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const exited = statuses.find((s) => (s.state?.terminated?.exitCode ?? 0) !== 0 || (s.lastState?.terminated?.exitCode ?? 0) !== 0);
    if (exited) {
      const code = exited.state?.terminated?.exitCode || exited.lastState?.terminated?.exitCode;
      const response = await client.request('GET', `${base}/${encodeURIComponent(pod.metadata.name)}/log`, {
        query: { container: exited.name, tailLines: String(tailLines) },
      });
      const lines = response.status === 200 ? response.text.trimEnd() : `(its log could not be read: HTTP ${response.status})`;
      return `pod ${pod.metadata.name}, container ${exited.name} exited ${code}; its last log lines:\n${lines}`;
    }
    const waiting = statuses.find((s) => s.state?.waiting?.reason && s.state.waiting.reason !== 'PodInitializing');
    if (waiting)
      return `pod ${pod.metadata.name}, container ${waiting.name}: ${waiting.state?.waiting?.reason}${waiting.state?.waiting?.message ? ` — ${waiting.state.waiting.message}` : ''}`;
    const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
    if (unscheduled) return `pod ${pod.metadata.name} is not scheduled: ${unscheduled.message ?? 'no reason given'}`;
  }
  return pods.length === 0 ? 'no pod was created for it' : undefined;
}

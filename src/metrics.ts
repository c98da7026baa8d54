import { Registry, collectDefaultMetrics } from 'prom-client';

/** One registry per role process, with Node's default process metrics under our prefix. */
export function createRegistry(role: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, prefix: 'paymentsctl_' });
  return registry;
}

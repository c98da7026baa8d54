import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';

export interface OpsServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** readiness: true when the role can do its work (Kubernetes routes and rolls by it) */
  ready: () => boolean | Promise<boolean>;
  log: Logger;
}

/**
 * The endpoints every long-running role serves: /healthz (the process answers), /readyz (it can
 * work) and /metrics (Prometheus text format).
 */
export async function startOpsServer(options: OpsServerOptions): Promise<{ server: FastifyInstance; port: number }> {
  const server = Fastify({ logger: false });
  server.get('/healthz', async () => ({ status: 'ok' }));
  server.get('/readyz', async (_request, reply) => {
    const ready = await Promise.resolve(options.ready()).catch(() => false);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready' });
  });
  server.get('/metrics', async (_request, reply) => {
    reply.header('content-type', options.registry.contentType);
    return options.registry.metrics();
  });
  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  options.log.info({ host: options.host, port }, 'serving /healthz, /readyz and /metrics');
  return { server, port };
}

import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { registerOpsRoutes, type OpsEndpoints } from '../http/ops-server.js';
import type { Logger } from '../log.js';
import type { WebhookMetrics } from './metrics.js';
import type { WebhookReceiver } from './receiver.js';

export interface WebhookServerOptions {
  host: string;
  port: number;
  /** the public path Stripe POSTs to, e.g. /webhook/stripe */
  path: string;
  maxBodyBytes: number;
  receiver: WebhookReceiver;
  metrics: WebhookMetrics;
  log: Logger;
  /** also serve /healthz, /readyz and /metrics on this server (when they have no port of their own) */
  ops?: OpsEndpoints;
}

export interface RunningWebhookServer {
  server: FastifyInstance;
  port: number;
  /** http://host:port of the listener */
  url: string;
  /** stops accepting, lets requests in flight finish (their transactions commit and are answered), then resolves */
  close: () => Promise<void>;
}

const OTHER_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/**
 * The webhook endpoint over HTTP. The body is never parsed by the framework: the signature is
 * over the exact bytes, so every content type is read as a raw Buffer, up to `maxBodyBytes`.
 */
export async function startWebhookServer(options: WebhookServerOptions): Promise<RunningWebhookServer> {
  const { receiver, metrics, path } = options;
  const server = Fastify({
    logger: false,
    bodyLimit: options.maxBodyBytes,
    exposeHeadRoutes: false,
    // close(): idle keep-alive connections go at once, requests in flight are answered first,
    // and a new request on a connection still open is answered 503 (Stripe retries it).
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // A client that trickles its body must not hold a connection (and a slot) forever.
    requestTimeout: 30_000,
  });
  server.removeAllContentTypeParsers();
  server.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: options.maxBodyBytes }, (_request, body, done) => done(null, body));

  let shuttingDown = false;
  const onWebhookPath = (request: FastifyRequest) => request.routeOptions.url === path;
  // A response finished after close() began must end its keep-alive connection too, or the
  // listener would wait for the client to hang up before the process can exit.
  server.addHook('onSend', (_request, reply, payload, done) => {
    if (shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });
  server.addHook('onRequest', (request, _reply, done) => {
    if (onWebhookPath(request)) metrics.received.inc();
    done();
  });
  server.addHook('onResponse', (request, reply, done) => {
    if (onWebhookPath(request)) metrics.latency.observe({ status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });

  server.post(path, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const header = request.headers['stripe-signature'];
    const answer = await receiver.handle(body, Array.isArray(header) ? header.join(',') : header);
    return reply.code(answer.status).send(answer.body);
  });
  server.route({
    method: [...OTHER_METHODS],
    url: path,
    handler: async (_request, reply) =>
      reply
        .code(405)
        .header('allow', 'POST')
        .send({ error: { reason: 'method_not_allowed', message: 'only POST is accepted here' } }),
  });

  if (options.ops) registerOpsRoutes(server, options.ops);

  server.setNotFoundHandler((_request, reply) => reply.code(404).send({ error: { reason: 'not_found', message: 'not found' } }));
  server.setErrorHandler((error: Error & { statusCode?: number }, request: FastifyRequest, reply: FastifyReply) => {
    const status = error.statusCode ?? 500;
    if (onWebhookPath(request) && status < 500) {
      // Refused by the framework before the receiver saw it: too large, or not a well-formed request.
      const answer =
        status === 413
          ? receiver.rejected(413, 'body_too_large', `body larger than ${options.maxBodyBytes} bytes`)
          : receiver.rejected(400, 'bad_request', error.message);
      return reply.code(answer.status).send(answer.body);
    }
    if (status >= 500) options.log.error({ err: error, url: request.url.split('?')[0] }, 'webhook server: unexpected error');
    return reply.code(status).send({
      error: { reason: status >= 500 ? 'internal_error' : 'bad_request', message: status >= 500 ? 'internal error' : error.message },
    });
  });

  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const reachable = options.host === '0.0.0.0' || options.host === '' ? '127.0.0.1' : options.host === '::' ? '::1' : options.host;
  const url = `http://${reachable.includes(':') ? `[${reachable}]` : reachable}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url,
    close: () => {
      shuttingDown = true;
      return (closing ??= server.close());
    },
  };
}

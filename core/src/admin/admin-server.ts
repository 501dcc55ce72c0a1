import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PosternConfig } from '../config/types.js';
import { ErrorCode, PosternError } from '../errors.js';
import type { PluginHost, ReloadResult } from '../plugin-host/plugin-host.js';
import { deleteMessages, holdMessages, listQueue, retryMessages, showMessage } from '../queue/queue-admin.js';
import type { QueueSelector, QueueStore } from '../queue/queue-store.js';

export interface AdminDeps {
  config: PosternConfig;
  log: Logger;
  plugins: PluginHost;
  reload(): Promise<ReloadResult>;
  /** The queue's store and the spool folder, for the queue endpoints (the same functions as `postern queue`). */
  queue: { store: QueueStore; spoolDir: string };
}

export interface RunningAdmin {
  address: { host: string; port: number };
  close(): Promise<void>;
}

function tokenOf(config: PosternConfig): string {
  return config.admin.token || process.env.POSTERN_ADMIN_TOKEN || '';
}

/** Constant-time comparison of the bearer token, so response times do not leak it byte by byte. */
function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * The admin HTTP API (fastify): the operations of the CLI for tools and dashboards: the plugin
 * host's status and reload, and queue management (docs/reference/admin-api.md). Every request needs `Authorization: Bearer <token>`; errors
 * are JSON `{ code, message }` with the stable codes of docs/reference/errors.md.
 */
export async function startAdmin(deps: AdminDeps): Promise<RunningAdmin> {
  const { config } = deps;
  const token = tokenOf(config);
  if (token.length < 16) {
    throw new PosternError(ErrorCode.ADMIN_TOKEN_MISSING, 'admin.enabled needs a token of at least 16 characters (admin.token or $POSTERN_ADMIN_TOKEN)');
  }
  const app: FastifyInstance = Fastify({ logger: false });

  app.addHook('onRequest', async (request, reply) => {
    if (!tokenMatches(request.headers.authorization, token)) {
      deps.log.warn({ ip: request.ip, url: request.url }, 'admin API: refused a request without the right token');
      return reply.code(401).send({ code: ErrorCode.ADMIN_UNAUTHORIZED, message: 'missing or wrong bearer token' });
    }
  });

  app.get('/api/plugins', async () => deps.plugins.status());
  app.get('/api/plugins/timings', async () => deps.plugins.timings());

  app.post('/api/plugins/reload', async (_request, reply) => {
    const result = await deps.reload();
    if (result.ok) return { generation: result.generation, plugins: deps.plugins.status().plugins };
    return reply.code(409).send({
      code: ErrorCode.PLUGIN_RELOAD_FAILED,
      message: `reload failed, generation ${result.generation} keeps serving: ${result.error?.message ?? ''}`,
      cause: result.error?.code,
      generation: result.generation,
    });
  });

  registerQueueRoutes(app, deps.queue);

  app.setNotFoundHandler((_request, reply) => reply.code(404).send({ code: ErrorCode.ADMIN_NOT_FOUND, message: 'no such endpoint' }));

  try {
    await app.listen({ host: config.admin.host, port: config.admin.port });
  } catch (err) {
    throw new PosternError(ErrorCode.LISTEN_FAILED, `admin API cannot listen on ${config.admin.host}:${config.admin.port}: ${(err as Error).message}`, {}, { cause: err });
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.admin.port;
  deps.log.info({ host: config.admin.host, port }, 'admin API ready');
  return { address: { host: config.admin.host, port }, close: () => app.close() };
}

/**
 * `postern queue ...` over HTTP. `:id` may be `all` for the bulk operations (retry, hold,
 * release, delete), like the CLI's `--all`. An unknown id is 404 POSTERN_QUEUE_NOT_FOUND.
 */
function registerQueueRoutes(app: FastifyInstance, queue: AdminDeps['queue']): void {
  const selector = (id: string): QueueSelector => (id === 'all' ? { all: true } : { id: id.toUpperCase() });
  app.setErrorHandler((err, _request, reply) => {
    if (err instanceof PosternError) return reply.code(err.code === ErrorCode.QUEUE_NOT_FOUND ? 404 : 400).send({ code: err.code, message: err.message });
    throw err; // fastify's own error reply
  });
  app.get('/api/queue', async () => listQueue(queue.store));
  app.get<{ Params: { id: string } }>('/api/queue/:id', async (request) => showMessage(queue.store, request.params.id.toUpperCase()));
  app.post<{ Params: { id: string } }>('/api/queue/:id/retry', async (request) => ({ ids: await retryMessages(queue.store, selector(request.params.id)) }));
  app.post<{ Params: { id: string } }>('/api/queue/:id/hold', async (request) => ({ ids: await holdMessages(queue.store, selector(request.params.id), true) }));
  app.post<{ Params: { id: string } }>('/api/queue/:id/release', async (request) => ({ ids: await holdMessages(queue.store, selector(request.params.id), false) }));
  app.delete<{ Params: { id: string } }>('/api/queue/:id', async (request) => ({ ids: await deleteMessages(queue.store, queue.spoolDir, selector(request.params.id)) }));
}

import { timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { PosternConfig } from '../config/types.js';
import { ErrorCode, PosternError } from '../errors.js';
import type { PluginHost, ReloadResult } from '../plugin-host/plugin-host.js';

export interface AdminDeps {
  config: PosternConfig;
  log: Logger;
  plugins: PluginHost;
  reload(): Promise<ReloadResult>;
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
 * The admin HTTP API (fastify): the operations of the CLI for tools and dashboards. So far the
 * plugin host's: status and reload. Every request needs `Authorization: Bearer <token>`; errors
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

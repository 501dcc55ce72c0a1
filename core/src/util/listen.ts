import type { AddressInfo, Server } from 'node:net';
import { ErrorCode, PosternError } from '../errors.js';

/**
 * Start `server` listening on a configured listener's host and port; a failure (address in use,
 * no permission for a low port) becomes POSTERN_LISTEN_FAILED naming the listener.
 */
export async function listenOn(server: Server, listener: { name: string; host: string; port: number }): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new PosternError(ErrorCode.LISTEN_FAILED, `listener ${listener.name} cannot listen on ${listener.host}:${listener.port}: ${err.message}`, { listener: listener.name }, { cause: err }));
    server.once('error', onError);
    server.listen(listener.port, listener.host, () => {
      server.off('error', onError);
      resolve();
    });
  });
  return server.address() as AddressInfo;
}

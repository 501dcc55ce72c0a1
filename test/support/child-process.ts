import type { ChildProcess } from 'node:child_process';

/**
 * Stop a helper service started by a test (dnsmasq, smtp-sink, dovecot ...): SIGTERM by pid, then
 * SIGKILL if it is still there after 2 s; resolves when it has exited (`exited`).
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const timer = setTimeout(() => {
    try {
      process.kill(child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  }, 2000);
  await exited;
  clearTimeout(timer);
}

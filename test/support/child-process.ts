import type { ChildProcess } from 'node:child_process';

/**
 * Stop a helper service started by a test (dnsmasq, smtp-sink, dovecot ...): SIGTERM by pid, then
 * SIGKILL if it is still there after `killAfterMs`; resolves when it has exited (`exited`).
 */
export async function stopChild(child: ChildProcess, exited: Promise<void>, killAfterMs = 2000): Promise<void> {
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
  }, killAfterMs);
  await exited;
  clearTimeout(timer);
}

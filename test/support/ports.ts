import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/** Whether 127.0.0.1:`port` can be listened on right now (TCP). */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** Any port the kernel picks (bind port 0): the fallback when there is no room below its range. */
function kernelPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Test ports come from below the kernel's ephemeral range (Linux: ip_local_port_range, 32768 by
 * default). Ports from that range are also the source ports of outgoing connections, so one that
 * was free a moment ago could be taken by any client's connect() before the server under test
 * listened on it (seen: EADDRINUSE at a server's start). Below it, only another test process could
 * take it; each process walks its own sequence from a random start, which makes that unlikely.
 */
const RANGE = ((): { low: number; high: number } | undefined => {
  let ephemeralLow = 32768;
  try {
    ephemeralLow = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || ephemeralLow;
  } catch {
    // not Linux: assume the usual range
  }
  const low = 20000;
  const high = Math.min(ephemeralLow, 65536) - 1;
  return high - low >= 1000 ? { low, high } : undefined;
})();
let next = RANGE ? RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low)) : 0;

/** A TCP port on 127.0.0.1 that was free a moment ago, from below the kernel's ephemeral range. */
export async function freePort(): Promise<number> {
  if (!RANGE) return kernelPort();
  for (let tries = 0; tries < 500; tries++) {
    next = next >= RANGE.high ? RANGE.low : next + 1;
    if (await canListen(next)) return next;
  }
  return kernelPort();
}

/** `n` distinct free ports. */
export async function freePorts(n: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < n) ports.add(await freePort());
  return [...ports];
}

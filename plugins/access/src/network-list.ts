import { BlockList } from 'node:net';
import { clientIp } from '@postern/sdk/net';
import { parseNetwork } from './ip.js';

/** A compiled list of networks: `match(ip)` gives the entry (as written in config) that holds `ip`. */
export interface NetworkList {
  match(ip: string): string | undefined;
}

function blockListOf(entries: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of entries) {
    const net = parseNetwork(entry);
    if (net) list.addSubnet(net.address, net.prefix, net.family);
  }
  return list;
}

/**
 * One BlockList for the whole list answers the common case (no match) in one call; only on a hit
 * do we look for which entry matched, to name it in the results store and the log.
 * Entries must have passed `validate`; an invalid one is skipped.
 */
export function compileNetworks(entries: readonly string[]): NetworkList {
  const all = blockListOf(entries);
  const each = entries.map((entry) => ({ entry, list: blockListOf([entry]) }));
  const check = (list: BlockList, ip: string): boolean => list.check(ip, ip.includes(':') ? 'ipv6' : 'ipv4');
  return {
    match(ip: string): string | undefined {
      const address = clientIp(ip);
      if (address === '' || entries.length === 0 || !check(all, address)) return undefined;
      return each.find(({ list }) => check(list, address))?.entry;
    },
  };
}

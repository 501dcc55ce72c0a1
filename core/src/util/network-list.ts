import { BlockList, isIP } from 'node:net';

/**
 * A set of CIDR ranges (IPv4 and IPv6) to test client addresses against, e.g. relay.trustedNetworks.
 * IPv4-mapped IPv6 addresses (::ffff:192.0.2.1), as a dual-stack listener reports them, match
 * their IPv4 ranges.
 */
export class NetworkList {
  readonly #list = new BlockList();
  readonly size: number;

  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) {
      const [address = '', bits] = cidr.split('/');
      const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
      const prefix = bits === undefined ? (family === 'ipv6' ? 128 : 32) : Number(bits);
      this.#list.addSubnet(address, prefix, family);
    }
    this.size = cidrs.length;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
    if (mapped?.[1]) return this.#list.check(mapped[1], 'ipv4');
    const family = isIP(ip);
    if (family === 0) return false;
    return this.#list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
  }
}

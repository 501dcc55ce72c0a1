import { Readable } from 'node:stream';
import NodeClam from 'clamscan';

/** What one scan says. */
export interface ScanResult {
  infected: boolean;
  /** The signature names clamd reported (e.g. "Eicar-Signature"); empty when clean. */
  viruses: string[];
}

/** Scan one message. Rejects when there is no verdict (clamd down, refused, gave garbage). */
export type Scan = (message: Buffer) => Promise<ScanResult>;

export interface ClamdTarget {
  host: string;
  port: number;
  /** Socket timeout given to clamscan (the plugin adds its own overall timeout around each scan). */
  timeoutMs: number;
}

/**
 * The default scanner: the message streamed to clamd over TCP (INSTREAM) with the clamscan
 * package, never a local clamscan binary. clamscan's `init` pings clamd; it is done on first use
 * and again after a failed init, so a clamd started after Postern is picked up.
 */
export function clamdScanner(target: ClamdTarget): Scan {
  let ready: Promise<NodeClam> | undefined;
  const client = (): Promise<NodeClam> => {
    ready ??= new NodeClam()
      .init({
        removeInfected: false,
        debugMode: false,
        scanLog: null,
        clamscan: { active: false },
        clamdscan: { host: target.host, port: target.port, timeout: target.timeoutMs, localFallback: false, active: true },
        preference: 'clamdscan',
      })
      .catch((err: unknown) => {
        ready = undefined;
        throw err;
      });
    return ready;
  };
  return async (message) => {
    const clam = await client();
    const result = await clam.scanStream(Readable.from([message]));
    if (result.isInfected === null) throw new Error('clamd gave no verdict');
    return { infected: result.isInfected, viruses: result.isInfected ? result.viruses.map(String) : [] };
  };
}

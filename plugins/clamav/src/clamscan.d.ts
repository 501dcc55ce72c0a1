// clamscan 2.4.0 ships no types: the part this plugin uses.
declare module 'clamscan' {
  import type { Readable } from 'node:stream';
  interface ClamdScanSettings {
    host?: string;
    port?: number;
    timeout?: number;
    localFallback?: boolean;
    active?: boolean;
    bypassTest?: boolean;
  }
  interface NodeClamInit {
    removeInfected?: boolean;
    debugMode?: boolean;
    scanLog?: string | null;
    clamscan?: { active?: boolean };
    clamdscan?: ClamdScanSettings;
    preference?: 'clamscan' | 'clamdscan';
  }
  interface ScanStreamResult {
    /** null when clamd gave no verdict (an error or a timeout). */
    isInfected: boolean | null;
    viruses: string[];
  }
  class NodeClam {
    init(options?: NodeClamInit): Promise<NodeClam>;
    scanStream(stream: Readable): Promise<ScanStreamResult>;
  }
  export default NodeClam;
}

// What a server used during one batch: peak VmRSS of the server process plus its descendants, and
// CPU time, sampled on a fixed period (the same code for both servers, so both pay the same /proc
// scans). CPU has to be sampled too: tftpd-hpa ignores SIGCHLD, so its exited transfer children are
// reaped by the kernel and never show up in the listener's cutime.
import { RSS_SAMPLE_MS } from './config.js';
import { sampleTree } from './proc.js';

export interface ServerUsage {
  peakRssBytes: number;
  /** CPU used during the batch; a forked child's last < 50 ms before exiting are missed. */
  cpuSeconds: number;
}

export class ServerSampler {
  private peakRssBytes = 0;
  /** CPU seconds per pid when first seen (0 for processes born during the batch) and when last seen. */
  private readonly cpuAtStart = new Map<number, number>();
  private readonly cpuLastSeen = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly pid: number) {
    for (const sample of sampleTree(pid)) this.cpuAtStart.set(sample.pid, sample.cpuSeconds);
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
  }

  private sample(): void {
    let rss = 0;
    for (const sample of sampleTree(this.pid)) {
      rss += sample.rssBytes;
      this.cpuLastSeen.set(sample.pid, sample.cpuSeconds);
    }
    this.peakRssBytes = Math.max(this.peakRssBytes, rss);
  }

  stop(): ServerUsage {
    clearInterval(this.timer);
    this.sample();
    let cpuSeconds = 0;
    for (const [pid, last] of this.cpuLastSeen) cpuSeconds += last - (this.cpuAtStart.get(pid) ?? 0);
    return { peakRssBytes: this.peakRssBytes, cpuSeconds };
  }
}

// A lossy link for the loss run: two network namespaces made by the benchmark (servers in one,
// clients in the other) joined by a veth pair, with random loss injected in both directions.
// Its addresses exist only inside those namespaces; nothing leaves this machine.
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LOSS_NETWORK } from './config.js';
import { mustRun, runCommand } from './children.js';

export type LossMethod = 'netem' | 'nftables';

export interface LossCounters {
  /** UDP packets that reached the loss point, both directions. */
  seen: number;
  dropped: number;
}

const NFT_TABLE = 'kickstand_bench_loss';

export class LossyLink {
  readonly serverNs: string;
  readonly clientNs: string;
  private readonly serverVeth: string;
  private readonly clientVeth: string;
  private created = false;
  lossMethod: LossMethod | undefined;

  constructor(private readonly workDir: string) {
    // Unique per run, so two benchmarks (or a crashed earlier one) never collide. veth names: max 15 chars.
    const tag = String(process.pid);
    this.serverNs = `kbtftp-srv-${tag}`;
    this.clientNs = `kbtftp-cli-${tag}`;
    this.serverVeth = `kbs${tag}`;
    this.clientVeth = `kbc${tag}`;
  }

  /** argv that runs `command` inside a namespace: ip netns exec replaces itself with it, so the PID is the command's. */
  static inNamespace(ns: string, command: string, args: readonly string[]): [string, string[]] {
    return ['ip', ['netns', 'exec', ns, command, ...args]];
  }

  async create(lossPercent: number): Promise<void> {
    this.created = true;
    const { serverAddress, clientAddress, prefixLength } = LOSS_NETWORK;
    await mustRun('ip', ['netns', 'add', this.serverNs]);
    await mustRun('ip', ['netns', 'add', this.clientNs]);
    await mustRun('ip', ['link', 'add', this.serverVeth, 'netns', this.serverNs, 'type', 'veth', 'peer', 'name', this.clientVeth, 'netns', this.clientNs]);
    for (const [ns, dev, address] of [
      [this.serverNs, this.serverVeth, serverAddress],
      [this.clientNs, this.clientVeth, clientAddress],
    ] as const) {
      await mustRun('ip', ['-n', ns, 'addr', 'add', `${address}/${prefixLength}`, 'dev', dev]);
      await mustRun('ip', ['-n', ns, 'link', 'set', dev, 'up']);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    this.lossMethod = await this.injectLoss(lossPercent);
  }

  /**
   * netem on each veth's egress when the kernel has it; otherwise (this project's VM kernel has no
   * sch_netem) an nftables rule dropping the same share of UDP at each veth's ingress. Dropping on
   * receive, not send, matters: a packet dropped by netfilter on output fails the sender's send()
   * with EPERM, which no real lossy network does.
   */
  private async injectLoss(lossPercent: number): Promise<LossMethod> {
    const netem = await this.tryNetem(lossPercent);
    if (netem) return 'netem';
    const perTenThousand = Math.round(lossPercent * 100);
    for (const [ns, dev] of this.ends()) {
      const script = join(this.workDir, `loss-${dev}.nft`);
      await writeFile(
        script,
        [
          `table netdev ${NFT_TABLE} {`,
          '  chain ingress {',
          `    type filter hook ingress device "${dev}" priority 0; policy accept;`,
          '    ip protocol udp counter',
          `    ip protocol udp numgen random mod 10000 < ${perTenThousand} counter drop`,
          '  }',
          '}',
          '',
        ].join('\n'),
      );
      await mustRun(...LossyLink.inNamespace(ns, 'nft', ['-f', script]));
    }
    return 'nftables';
  }

  private async tryNetem(lossPercent: number): Promise<boolean> {
    const added: Array<[string, string]> = [];
    for (const [ns, dev] of this.ends()) {
      const result = await runCommand('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'netem', 'loss', `${lossPercent}%`]);
      if (result.code !== 0) {
        for (const [addedNs, addedDev] of added) await runCommand('ip', ['netns', 'exec', addedNs, 'tc', 'qdisc', 'del', 'dev', addedDev, 'root']);
        return false;
      }
      added.push([ns, dev]);
    }
    return true;
  }

  private ends(): Array<[string, string]> {
    return [
      [this.serverNs, this.serverVeth],
      [this.clientNs, this.clientVeth],
    ];
  }

  /** Packets seen and dropped so far at the loss points (both directions), or undefined if unreadable. */
  async counters(): Promise<LossCounters | undefined> {
    const total: LossCounters = { seen: 0, dropped: 0 };
    for (const [ns, dev] of this.ends()) {
      const one = this.lossMethod === 'netem' ? await this.netemCounters(ns, dev) : await this.nftCounters(ns);
      if (!one) return undefined;
      total.seen += one.seen;
      total.dropped += one.dropped;
    }
    return total;
  }

  private async nftCounters(ns: string): Promise<LossCounters | undefined> {
    const result = await runCommand(...LossyLink.inNamespace(ns, 'nft', ['-j', 'list', 'table', 'netdev', NFT_TABLE]));
    if (result.code !== 0) return undefined;
    type NftEntry = { rule?: { expr: Array<{ counter?: { packets: number } }> } };
    const entries = (JSON.parse(result.stdout) as { nftables: NftEntry[] }).nftables;
    const counts = entries.flatMap((entry) => entry.rule?.expr.flatMap((expr) => (expr.counter ? [expr.counter.packets] : [])) ?? []);
    const [seen, dropped] = counts;
    return seen === undefined || dropped === undefined ? undefined : { seen, dropped };
  }

  private async netemCounters(ns: string, dev: string): Promise<LossCounters | undefined> {
    const result = await runCommand(...LossyLink.inNamespace(ns, 'tc', ['-s', '-j', 'qdisc', 'show', 'dev', dev]));
    if (result.code !== 0) return undefined;
    const qdisc = (JSON.parse(result.stdout) as Array<{ kind: string; packets?: number; drops?: number }>).find((q) => q.kind === 'netem');
    if (!qdisc || qdisc.packets === undefined || qdisc.drops === undefined) return undefined;
    return { seen: qdisc.packets + qdisc.drops, dropped: qdisc.drops };
  }

  /** Deletes both namespaces (the veth pair goes with them). Synchronous so it also works in an exit handler. */
  destroySync(): void {
    if (!this.created) return;
    this.created = false;
    for (const ns of [this.serverNs, this.clientNs]) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // Never created, or already deleted.
      }
    }
  }
}

// How much of the machine the benchmark had: CPU time all processes used during the run, minus
// what the benchmark itself used (driver, servers, clients), is other work sharing the machine.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS_PER_SECOND = 100;

interface CpuSnapshot {
  /** CPU seconds all CPUs spent busy (user, nice, system, irq, softirq). */
  machineBusy: number;
  /** CPU seconds the hypervisor took from this VM. */
  steal: number;
  /** This process plus every child it has reaped (servers, clients, ip, nft …). */
  benchSelfAndReaped: number;
}

export function cpuSnapshot(): CpuSnapshot {
  const cpuLine = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice
  const [user, nice, system, , , irq, softirq, steal] = cpuLine.trim().split(/\s+/).slice(1).map(Number);
  const self = readFileSync('/proc/self/stat', 'utf8');
  const fields = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
  const ticks = (n: number | undefined) => (n ?? 0) / CLOCK_TICKS_PER_SECOND;
  return {
    machineBusy: ticks((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0)),
    steal: ticks(steal),
    // utime, stime, cutime, cstime
    benchSelfAndReaped: ticks((fields[11] ?? 0) + (fields[12] ?? 0) + (fields[13] ?? 0) + (fields[14] ?? 0)),
  };
}

export interface BackgroundCpu {
  /** CPU seconds used by processes that are not the benchmark's. */
  otherSeconds: number;
  stealSeconds: number;
  wallSeconds: number;
}

/**
 * Call once every child has exited and been reaped. `unreapedSeconds` is CPU of the benchmark's
 * grandchildren that never reach its cutime: tftpd-hpa ignores SIGCHLD, so its transfer children
 * are reaped by the kernel and their CPU is known only from the benchmark's own samples.
 */
export function backgroundCpu(start: CpuSnapshot, end: CpuSnapshot, wallSeconds: number, unreapedSeconds: number): BackgroundCpu {
  const busy = end.machineBusy - start.machineBusy;
  const bench = end.benchSelfAndReaped - start.benchSelfAndReaped + unreapedSeconds;
  return { otherSeconds: Math.max(0, busy - bench), stealSeconds: end.steal - start.steal, wallSeconds };
}

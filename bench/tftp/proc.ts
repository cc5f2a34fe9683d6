// Reading processes from /proc: memory and CPU of a server, including the processes it forked
// (tftpd-hpa serves every transfer from a child process of the listener).
import { readdirSync, readFileSync } from 'node:fs';

/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream kernel). */
const CLOCK_TICKS_PER_SECOND = 100;

interface ProcStat {
  ppid: number;
  /** utime + stime: CPU of the process itself, all its threads. */
  cpuTicks: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited between listing and reading
  }
  // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { ppid: Number(fields[1]), cpuTicks: Number(fields[11]) + Number(fields[12]) };
}

/** All processes below `rootPid`, found through the ppid of every /proc/<pid>/stat. */
export function descendantsOf(rootPid: number): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const stat = readStat(pid);
    if (!stat) continue;
    const siblings = childrenOf.get(stat.ppid);
    if (siblings) siblings.push(pid);
    else childrenOf.set(stat.ppid, [pid]);
  }
  const found: number[] = [];
  const queue = [rootPid];
  while (queue.length > 0) {
    for (const child of childrenOf.get(queue.shift() as number) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

/** VmRSS of one process in bytes, 0 once it is gone. */
function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

export interface ProcessSample {
  pid: number;
  rssBytes: number;
  cpuSeconds: number;
}

/** RSS and CPU so far of a process and each of its descendants, read now. */
export function sampleTree(rootPid: number): ProcessSample[] {
  const samples: ProcessSample[] = [];
  for (const pid of [rootPid, ...descendantsOf(rootPid)]) {
    const stat = readStat(pid);
    if (stat) samples.push({ pid, rssBytes: rssBytes(pid), cpuSeconds: stat.cpuTicks / CLOCK_TICKS_PER_SECOND });
  }
  return samples;
}

// What the TFTP benchmark measures, and its bounds. Sized so the whole run stays under 10 minutes
// on the project's 2-core machine: one repetition per row, a smaller file for the loss run.

export const MiB = 1024 * 1024;

export type ClientProgram = 'curl' | 'atftp';

/** One way of fetching the file: curl has no windowsize option, so its rows are windowsize 1. */
export interface ClientSpec {
  program: ClientProgram;
  windowsize: number;
}

export const PAYLOAD_NAME = 'payload.bin';
export const PAYLOAD_BYTES = 32 * MiB;
/** A tiny file fetched to tell that a server answers, before any measured transfer. */
export const PROBE_NAME = 'ready.txt';

export const CLEAN_RUN = {
  concurrencies: [1, 20],
  blksizes: [512, 1468],
  clients: [
    { program: 'curl', windowsize: 1 },
    { program: 'atftp', windowsize: 1 },
    { program: 'atftp', windowsize: 16 },
  ] as ClientSpec[],
  /** A 32 MiB transfer at blksize 512 among 20 takes tens of seconds here; 4 minutes means stuck. */
  transferTimeoutMs: 240_000,
  /**
   * Single-client rows take seconds and are the noisiest, so they run this many times and report
   * the median; 20-client rows take up to half a minute each and run once to fit the time budget.
   */
  repetitions: (concurrency: number) => (concurrency === 1 ? 3 : 1),
};

export const LOSS_RUN = {
  /** Percent of UDP packets dropped, independently in each direction (DATA and ACK both get lost). */
  lossPercent: 1,
  /**
   * Every lost packet costs a retransmission timeout (1 s on both servers) in lock-step TFTP, so
   * 32 MiB at 1% loss would take minutes per transfer: the loss run serves a 2 MiB file.
   */
  payloadBytes: 2 * MiB,
  concurrency: 5,
  blksize: 1468,
  clients: [
    { program: 'atftp', windowsize: 16 },
    { program: 'atftp', windowsize: 1 },
    { program: 'curl', windowsize: 1 },
  ] as ClientSpec[],
  transferTimeoutMs: 120_000,
};

/** Rows not started by then are reported as skipped, so the bench always ends within 10 minutes. */
export const BENCH_BUDGET_MS = 9.5 * 60_000;

/**
 * Scheduling priority of the benchmark, inherited by both servers and every client: the project's
 * machines can be shared with other work, and at nice -10 a CPU hog at nice 0 takes ~1/10 of a
 * core from the bench instead of half. Same for both servers, so the comparison stays fair.
 */
export const BENCH_NICE = -10;

/** How often server memory is sampled. */
export const RSS_SAMPLE_MS = 50;

/** Targets from the TFTP issue. */
export const TARGETS = {
  /** kickstand aggregate throughput / tftpd-hpa's, in every clean row. */
  minRatio: 1,
  /** ... and in windowsize-16 rows (tftpd-hpa has no RFC 7440, so it runs those at windowsize 1). */
  minRatioWindowed: 3,
};

/** The namespaces of the loss run; addresses exist only inside them. */
export const LOSS_NETWORK = {
  serverAddress: '10.250.0.1',
  clientAddress: '10.250.0.2',
  prefixLength: 24,
  /** tftpd-hpa needs a fixed port; the server namespace is fresh, so any port is free there. */
  tftpdHpaPort: 6969,
};

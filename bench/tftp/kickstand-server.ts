// Child process that runs only kickstand's TFTP server, so the benchmark can measure its RSS (and
// CPU-profile it) apart from the benchmark driver and the clients.
//
// Usage: node --import tsx bench/tftp/kickstand-server.ts <root> <host> <port>
// Prints one JSON line {"port":N} on stdout once listening. Exits cleanly (so --cpu-prof can
// write its profile) on SIGTERM/SIGINT, and when stdin closes, i.e. when the driver went away.
// KS_TFTP_WORKERS=N overrides the number of transfer worker threads, to compare settings.
import { pino } from 'pino';
import { startTftpServer } from '../../src/tftp/server.js';

const [root, host, portText] = process.argv.slice(2);
if (!root || !host || !portText) {
  process.stderr.write('usage: kickstand-server.ts <root> <host> <port>\n');
  process.exit(2);
}

// warn: per-transfer info lines would make the server spend its time logging, not serving.
const log = pino({ level: 'warn' }, pino.destination(2));
const workers = process.env.KS_TFTP_WORKERS === undefined ? undefined : Number(process.env.KS_TFTP_WORKERS);
const server = await startTftpServer({ root, host, port: Number(portText), log, workers });
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await server.close();
  process.exit(0);
}

process.on('SIGTERM', () => void stop());
process.on('SIGINT', () => void stop());
process.stdin.on('end', () => void stop());
process.stdin.on('error', () => void stop());
process.stdin.resume();

// kickstand as an operator runs it: `node dist/cli.js serve` inside the lab's namespace on the real
// ports, a private copy of the site, and the CLI (render, reinstall) against the same root and data.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep, tail, type Lab, type Proc } from './lab.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const cliPath = path.join(repoRoot, 'dist', 'cli.js');
export const HTTP_PORT = 8080;

export interface HostEvent {
  at: string;
  kind: 'dhcp' | 'tftp' | 'boot-script' | 'kickstart' | 'built' | 'reinstall';
  detail: string;
  ip: string | null;
}

export interface HostJson {
  id: string;
  state: string;
  events: HostEvent[];
}

export type DhcpMode = 'full' | 'proxy' | 'off';

export class Kickstand {
  readonly root: string;
  readonly dataDir: string;
  readonly baseUrl: string;
  private proc: Proc | undefined;
  mode: DhcpMode | undefined;
  private variant: string | undefined;
  /** Everything every server process of this run logged, for failure reports. */
  private pastLogs = '';

  constructor(private readonly lab: Lab) {
    this.root = path.join(lab.workDir, 'site');
    this.dataDir = path.join(lab.workDir, 'data');
    this.baseUrl = `http://${lab.serverIp}:${HTTP_PORT}`;
  }

  /** A private copy of the shipped site (builds/, views/, http/) and a pxe/ filled by `pxe-install`. */
  prepareSite(): void {
    for (const folder of ['builds', 'views', 'http']) fs.cpSync(path.join(repoRoot, folder), path.join(this.root, folder), { recursive: true });
    fs.mkdirSync(this.dataDir, { recursive: true });
    const install = this.cli('pxe-install', '--no-apt', '--pxe-dir', path.join(this.root, 'pxe'));
    if (install.status !== 0) throw new Error(`kickstand pxe-install failed (run .ci/install-e2e-packages):\n${install.stdout}${install.stderr}`);
  }

  write(relative: string, text: string | Buffer): void {
    const file = path.join(this.root, relative);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
  }

  /** The CLI against this run's site (no --data-dir for commands that do not take one). */
  cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const result = spawnSync(process.execPath, [cliPath, ...args], { encoding: 'utf8', cwd: this.root });
    return { status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** `kickstand render` for the same build and base URL the VM was given: the expected kickstart. */
  render(build: string, os: string, baseUrl = this.baseUrl): string {
    const result = this.cli('render', build, '--os', os, '--base-url', baseUrl, '--root', this.root);
    if (result.status !== 0) throw new Error(`kickstand render ${build} failed: ${result.stderr}`);
    return result.stdout;
  }

  reinstall(host: string): void {
    const result = this.cli('reinstall', host, '--root', this.root, '--data-dir', this.dataDir);
    if (result.status !== 0) throw new Error(`kickstand reinstall ${host} failed: ${result.stderr}`);
  }

  /**
   * Runs `serve` in the given DHCP mode, restarting it when another mode is running. `serverUrl`
   * (mode off only) replaces --server-ip: kickstand then listens on every address, as it does
   * behind a site's own DHCP server.
   */
  async ensure(mode: DhcpMode, serverUrl?: string): Promise<void> {
    const variant = `${mode} ${serverUrl ?? ''}`;
    if (this.proc && this.proc.child.exitCode === null && this.variant === variant) return;
    await this.stop();
    const args = [
      cliPath, 'serve', '--root', this.root, '--data-dir', this.dataDir, '--dhcp', mode,
      ...(serverUrl === undefined ? ['--server-ip', this.lab.serverIp] : ['--server-url', serverUrl]),
      '--http-port', String(HTTP_PORT), '--tftp-port', '69', '--log-level', 'debug',
    ];
    if (mode === 'full') args.push('--dhcp-pool', `${this.lab.net}.100-${this.lab.net}.199`, '--dhcp-netmask', '255.255.255.0', '--dhcp-router', this.lab.serverIp);
    const proc = this.lab.spawn(`kickstand ${mode}`, this.lab.ns, process.execPath, args);
    this.proc = proc;
    this.mode = mode;
    this.variant = variant;
    const ready = ['HTTP listening', 'TFTP listening', ...(mode === 'off' ? [] : ['DHCP server listening'])];
    const deadline = Date.now() + 20_000;
    while (!ready.every((line) => proc.output.includes(line))) {
      if (proc.child.exitCode !== null || Date.now() > deadline) throw new Error(`kickstand serve --dhcp ${mode} did not start:\n${tail(proc.output, 40)}`);
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    if (!this.proc) return;
    await this.lab.stop(this.proc);
    this.pastLogs += this.proc.output;
    this.proc = undefined;
    this.mode = undefined;
    this.variant = undefined;
  }

  /** The server's log since `mark` (a value of logLength()), as pino JSON lines. */
  logLength(): number {
    return this.pastLogs.length + (this.proc?.output.length ?? 0);
  }

  logSince(mark: number): string {
    return (this.pastLogs + (this.proc?.output ?? '')).slice(mark);
  }

  /** GET /api/hosts/<name> from inside the namespace (the server's address exists only there). */
  host(name: string): HostJson {
    const script = `fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error(r.status + ' ' + await r.text()); process.stdout.write(await r.text()); }).catch((e) => { console.error(String(e)); process.exit(1); })`;
    const result = spawnSync('ip', ['netns', 'exec', this.lab.ns, process.execPath, '-e', script, `${this.baseUrl}/api/hosts/${name}`], { encoding: 'utf8', timeout: 10_000 });
    if (result.status !== 0) throw new Error(`GET /api/hosts/${name} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as HostJson;
  }
}

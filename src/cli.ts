#!/usr/bin/env node
import fs from 'node:fs';
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { serveConfigSchema, stateFile, type ServeConfig } from './config.js';
import { parseBuildId, parseOsId } from './definitions/build-id.js';
import { explainBuild } from './definitions/explain.js';
import { resolveBuild } from './definitions/resolve.js';
import { DefinitionStore } from './definitions/store.js';
import { BadRequestError, formatProblem, isRequestError } from './errors.js';
import { createLogger, silentLogger } from './log.js';
import { renderKickstart } from './render/kickstart.js';
import { TemplateEngine } from './render/templates.js';
import { validateSite } from './render/validate-site.js';
import { startServer } from './server.js';
import { runChecks } from './doctor.js';
import { formatInstallReport, installBootLoaders, installFailureLines } from './pxe/install.js';
import { BootService } from './boot/service.js';
import { StateStore } from './boot/state.js';

/** Exit codes: 0 fine, 1 the definitions or templates have a problem, 2 the command line is wrong. */
const EXIT_PROBLEM = 1;
const EXIT_USAGE = 2;

const program = new Command('kickstand')
  .description('Kickstart and PXE provisioning server')
  .showHelpAfterError()
  .exitOverride();

const rootOption = () => new Option('--root <dir>', 'folder holding builds/, views/, http/ and pxe/').default('.');
const dataDirOption = () => new Option('--data-dir <dir>', 'folder for build state, leases and the host-token key').default('./state');

/** The options serve and doctor share: what to listen on and how to boot machines. */
function withServeOptions(command: Command): Command {
  return command
    .addOption(rootOption())
    .addOption(dataDirOption())
    .option('--http-port <n>', 'HTTP port', '8080')
    .option('--host <addr>', 'address to listen on (default: all)')
    .option('--server-ip <addr>', 'the address machines reach kickstand at (DHCP next-server, URLs handed out)')
    .option('--server-url <url>', 'base URL handed to machines when not http://<server-ip>:<http-port>')
    .option('--tftp-port <n>', 'TFTP port; 0 disables TFTP', '69')
    .addOption(new Option('--dhcp <mode>', 'off, proxy (boot information only) or full (also addresses)').choices(['off', 'proxy', 'full']).default('off'))
    .option('--dhcp-interface <name>', 'check that --server-ip is on this interface')
    .option('--dhcp-pool <first-last>', 'full mode: dynamic addresses, e.g. 192.168.50.100-192.168.50.199')
    .option('--dhcp-netmask <mask>', 'full mode: subnet mask of the pool')
    .option('--dhcp-router <addr>', 'full mode: default gateway for pool leases')
    .option('--dhcp-dns <list>', 'full mode: comma separated DNS servers for pool leases')
    .option('--dhcp-domain <name>', 'full mode: domain name for pool leases')
    .option('--dhcp-lease-time <seconds>', 'full mode: lease time', '3600')
    .option('--only-known-macs', 'answer DHCP boot requests only for MACs a host definition names')
    .addOption(new Option('--api-token <token>', 'lets remote callers use POST /api/hosts/<name>/reinstall').env('KICKSTAND_API_TOKEN'))
    .addOption(new Option('--dhcp-port <n>').default('67').hideHelp())
    .addOption(new Option('--dhcp-pxe-port <n>').default('4011').hideHelp())
    .addOption(new Option('--dhcp-client-port <n>').default('68').hideHelp())
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', 'info');
}

function parseServeConfig(options: Record<string, unknown>): ServeConfig {
  const parsed = serveConfigSchema.safeParse(options);
  if (!parsed.success) {
    const flag = (key: string): string => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    throw new BadRequestError(parsed.error.issues.map((issue) => `${flag(String(issue.path[0]))}: ${issue.message}`).join('; '));
  }
  return parsed.data;
}

withServeOptions(program.command('serve'))
  .description('serve kickstarts, boot scripts and files over HTTP, TFTP and (optionally) DHCP')
  .action(async (options: Record<string, unknown>) => {
    const config = parseServeConfig(options);
    const log = createLogger({ level: config.logLevel });
    const server = await startServer(config, log);
    const stop = (signal: string): void => {
      log.info({ signal }, 'shutting down');
      server.close().then(() => process.exit(0), () => process.exit(1));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });

program
  .command('render <build>')
  .description('print the kickstart of <type>/<build> on stdout')
  .addOption(rootOption())
  .option('--os <Name-version>', 'OS, e.g. CentOS-7.6.1810 (default: the build\'s own os)')
  .option('--base-url <url>', 'server URL printed in the bootline\'s inst.ks=', 'http://localhost:8080')
  .action(async (build: string, options: { root: string; os?: string; baseUrl: string }) => {
    const { type, name } = parseBuildId(build);
    const os = parseOsId(options.os);
    const { snapshot, engine } = await loadSite(options.root);
    const resolved = resolveBuild(snapshot, { type, name, os });
    const query = `build=${type}/${name}${os ? `&os=${os}` : ''}`;
    const url = `${options.baseUrl.replace(/\/+$/, '')}/ks?${query}`;
    process.stdout.write(renderKickstart(engine, resolved, { url, clientIp: '127.0.0.1' }));
  });

program
  .command('validate')
  .description('check every definition and render every build; print problems as file:line: message')
  .addOption(rootOption())
  .action(async (options: { root: string }) => {
    const { snapshot, engine } = await loadSite(options.root);
    const { checked, problems } = validateSite(snapshot, engine);
    for (const problem of problems) process.stdout.write(`${formatProblem(problem)}\n`);
    process.stdout.write(`${snapshot.files.size} definition files, ${checked.length} kickstarts rendered, ${problems.length} problem${problems.length === 1 ? '' : 's'}\n`);
    if (problems.length > 0) process.exitCode = EXIT_PROBLEM;
  });

program
  .command('explain <build>')
  .description('every variable of <type>/<build>, its value, and the file:line that set it')
  .addOption(rootOption())
  .option('--os <Name-version>', 'OS, e.g. CentOS-7.6.1810')
  .option('--json', 'machine-readable output')
  .action(async (build: string, options: { root: string; os?: string; json?: boolean }) => {
    const { type, name } = parseBuildId(build);
    const os = parseOsId(options.os);
    const { snapshot } = await loadSite(options.root);
    const resolved = resolveBuild(snapshot, { type, name, os });
    const rows = explainBuild(resolved);
    if (options.json) {
      process.stdout.write(`${JSON.stringify({ build: resolved.build, comments: resolved.comments, files: resolved.files, variables: rows }, null, 2)}\n`);
      return;
    }
    for (const comment of resolved.comments) process.stdout.write(`${comment}\n`);
    const width = Math.max(...rows.map((row) => row.key.length));
    const valueWidth = Math.min(40, Math.max(...rows.map((row) => JSON.stringify(row.value).length)));
    for (const row of rows) {
      process.stdout.write(`${row.key.padEnd(width)}  ${JSON.stringify(row.value).padEnd(valueWidth)}  ${row.source}\n`);
    }
  });

withServeOptions(program.command('doctor'))
  .description('check what serve needs: definitions, boot loaders in pxe/, data dir, ports; one line per check')
  .action(async (options: Record<string, unknown>) => {
    const checks = await runChecks(parseServeConfig(options));
    for (const check of checks) process.stdout.write(`${check.status.toUpperCase().padEnd(4)}  ${check.name}: ${check.detail}\n`);
    if (checks.some((check) => check.status === 'fail')) process.exitCode = EXIT_PROBLEM;
  });

program
  .command('pxe-install')
  .description("fill pxe/ with network boot loaders from Debian's packages (installed with apt when missing)")
  .addOption(rootOption())
  .option('--pxe-dir <dir>', 'TFTP root to fill (default: <root>/pxe)')
  .option('--no-apt', 'do not install missing Debian packages; report them')
  .action(async (options: { root: string; pxeDir?: string; apt: boolean }) => {
    const log = createLogger({ destination: process.stderr, level: 'warn' });
    const report = await installBootLoaders({ pxeDir: path.resolve(options.pxeDir ?? path.join(options.root, 'pxe')), log, aptInstall: options.apt });
    for (const line of formatInstallReport(report)) process.stdout.write(`${line}\n`);
    for (const line of installFailureLines(report)) process.stderr.write(`kickstand: ${line}\n`);
    if (!report.ok) process.exitCode = EXIT_PROBLEM;
  });

program
  .command('hosts')
  .description('network-booting hosts: name, MACs, OS, build state and last event')
  .addOption(rootOption())
  .addOption(dataDirOption())
  .option('--json', 'machine-readable output')
  .option('--tokens', 'include each host\'s /built token (for hosts behind NAT or a relay)')
  .action(async (options: { root: string; dataDir: string; json?: boolean; tokens?: boolean }) => {
    const { boot, close } = await loadBootService(options.root, options.dataDir);
    try {
      const rows = boot.statuses().map((status) => ({ ...status, ...(options.tokens ? { token: boot.token(status.id) } : {}) }));
      if (options.json) {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const table = [
        ['HOST', 'MACS', 'OS', 'INSTALL', 'STATE', 'SINCE', 'LAST EVENT', ...(options.tokens ? ['TOKEN'] : [])],
        ...rows.map((row) => [
          row.id,
          row.macs.join(',') || '-',
          row.os ?? '-',
          row.install,
          row.state,
          row.since === new Date(0).toISOString() ? '-' : row.since,
          row.last_event ? `${row.last_event_at} ${row.last_event}: ${row.last_event_detail}` : '-',
          ...(options.tokens ? [boot.token(row.id)] : []),
        ]),
      ];
      const widths = table[0]!.map((_, column) => Math.max(...table.map((line) => line[column]!.length)));
      for (const line of table) process.stdout.write(`${line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
    } finally {
      close();
    }
  });

program
  .command('reinstall <host>')
  .description('put a host back into build mode: its next network boot installs it again')
  .addOption(rootOption())
  .addOption(dataDirOption())
  .action(async (name: string, options: { root: string; dataDir: string }) => {
    const { boot, close } = await loadBootService(options.root, options.dataDir);
    try {
      const host = boot.reinstall(name, `kickstand reinstall (${process.env.SUDO_USER ?? process.env.USER ?? 'cli'})`);
      process.stdout.write(`${host.id}: pending; its next network boot installs ${host.os ?? 'its OS'}\n`);
    } finally {
      close();
    }
  });

/** Loads definitions and templates once, for the one-shot commands; problems go to stderr. */
async function loadSite(root: string) {
  const absolute = path.resolve(root);
  const store = new DefinitionStore({ root: absolute, log: silentLogger });
  const snapshot = await store.reload();
  return { snapshot, store, engine: new TemplateEngine(path.join(absolute, 'views')) };
}

/**
 * Definitions plus the state database, for commands that read or change build state. The
 * database must exist: a wrong --data-dir would otherwise report (and change) a fresh, empty
 * state the server never reads, with a new token key.
 */
async function loadBootService(root: string, dataDir: string) {
  const absoluteDataDir = path.resolve(dataDir);
  const file = stateFile(absoluteDataDir);
  if (!fs.existsSync(file)) {
    throw new Error(`no state database at ${file}: pass the --data-dir that \`kickstand serve\` uses (it creates the database when it starts)`);
  }
  const { engine, store } = await loadSite(root);
  const state = new StateStore(file);
  const boot = new BootService(store, state, engine, silentLogger, absoluteDataDir);
  return { boot, close: () => state.close() };
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode === 0 ? 0 : EXIT_USAGE;
  } else if (error instanceof BadRequestError) {
    process.stderr.write(`kickstand: ${error.message}\n`);
    process.exitCode = EXIT_USAGE;
  } else if (isRequestError(error)) {
    process.stderr.write(`kickstand: ${error.message}\n`);
    process.exitCode = EXIT_PROBLEM;
  } else {
    // A port in use, a missing pxe/, an unreadable data dir: one line, not a stack trace.
    process.stderr.write(`kickstand: ${error instanceof Error ? error.message : String(error)}\n`);
    if (process.env.KICKSTAND_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    process.exitCode = EXIT_PROBLEM;
  }
}

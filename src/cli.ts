#!/usr/bin/env node
import path from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { serveConfigSchema } from './config.js';
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

/** Exit codes: 0 fine, 1 the definitions or templates have a problem, 2 the command line is wrong. */
const EXIT_PROBLEM = 1;
const EXIT_USAGE = 2;

const program = new Command('kickstand')
  .description('Kickstart and PXE provisioning server')
  .showHelpAfterError()
  .exitOverride();

const rootOption = () => new Option('--root <dir>', 'folder holding builds/, views/ and http/').default('.');

program
  .command('serve')
  .description('serve kickstarts and static files over HTTP')
  .addOption(rootOption())
  .option('--http-port <n>', 'HTTP port', '8080')
  .option('--host <addr>', 'address to listen on (default: all)')
  .option('--log-level <level>', 'fatal, error, warn, info, debug or trace', 'info')
  .action(async (options: { root: string; httpPort: string; host?: string; logLevel: string }) => {
    const parsed = serveConfigSchema.safeParse(options);
    if (!parsed.success) throw new BadRequestError(parsed.error.issues.map((issue) => `--${String(issue.path[0])}: ${issue.message}`).join('; '));
    const log = createLogger({ level: parsed.data.logLevel });
    const server = await startServer(parsed.data, log);
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

/** Loads definitions and templates once, for the one-shot commands; problems go to stderr. */
async function loadSite(root: string) {
  const absolute = path.resolve(root);
  const store = new DefinitionStore({ root: absolute, log: silentLogger });
  const snapshot = await store.reload();
  return { snapshot, engine: new TemplateEngine(path.join(absolute, 'views')) };
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
    throw error;
  }
}

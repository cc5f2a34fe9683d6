import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { StateStore } from './boot/state.js';
import { stateFile, type ServeConfig } from './config.js';
import { DefinitionStore } from './definitions/store.js';
import { formatProblem } from './errors.js';
import { silentLogger } from './log.js';
import { checkBootLoaders } from './pxe/check.js';
import { BOOT_LOADERS } from './pxe/loaders.js';
import { TemplateEngine } from './render/templates.js';
import { validateSite } from './render/validate-site.js';
import { checkNativeTransferSockets } from './tftp/udp-native.js';

export interface Check {
  status: 'ok' | 'warn' | 'fail';
  name: string;
  detail: string;
}

/** Everything `kickstand doctor` checks before a machine room relies on the server; one line each. */
export async function runChecks(config: ServeConfig): Promise<Check[]> {
  return [
    await checkDefinitions(config.root),
    ...(await bootLoaderChecks(path.join(config.root, 'pxe'))),
    checkDataDir(config.dataDir),
    ...(config.serverIp ? [checkServerIp(config.serverIp)] : []),
    await checkPort('tcp', config.httpPort, config.host, 'HTTP'),
    ...(config.tftpPort !== 0 ? [checkTftpAddon(), await checkPort('udp', config.tftpPort, config.host, 'TFTP')] : []),
    ...(config.dhcp !== 'off' ? [await checkPort('udp', config.dhcpPort, '0.0.0.0', 'DHCP')] : []),
    ...(config.dhcp === 'proxy' ? [await checkPort('udp', config.dhcpPxePort, config.serverIp, 'PXE (proxyDHCP)')] : []),
  ];
}

async function checkDefinitions(root: string): Promise<Check> {
  const store = new DefinitionStore({ root, log: silentLogger });
  const snapshot = await store.reload();
  const { checked, problems } = validateSite(snapshot, new TemplateEngine(path.join(root, 'views')));
  if (problems.length > 0) {
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more: run kickstand validate)` : '';
    return { status: 'fail', name: 'definitions', detail: `${formatProblem(problems[0]!)}${more}` };
  }
  return { status: 'ok', name: 'definitions', detail: `${snapshot.files.size} files valid, ${checked.length} kickstarts render, ${snapshot.hosts.byId.size} hosts` };
}

async function bootLoaderChecks(pxeDir: string): Promise<Check[]> {
  const checks = await checkBootLoaders(pxeDir);
  return checks.map((check) => {
    const loader = BOOT_LOADERS.find((entry) => entry.name === check.name)!;
    const name = `pxe/${check.name}`;
    if (check.state === 'ok') return { status: 'ok', name, detail: `present (${loader.client})` };
    const fix = check.state === 'missing' ? 'run npm run pxe:install' : 'replace it (npm run pxe:install)';
    return { status: check.required ? 'fail' : 'warn', name, detail: `${check.detail}: ${fix}${check.required ? '' : ` (optional: ${loader.description})`}` };
  });
}

function checkTftpAddon(): Check {
  try {
    checkNativeTransferSockets();
    return { status: 'ok', name: 'TFTP addon', detail: 'transfer sockets built and loadable' };
  } catch (error) {
    return { status: 'fail', name: 'TFTP addon', detail: (error as Error).message };
  }
}

function checkDataDir(dataDir: string): Check {
  try {
    fs.mkdirSync(dataDir, { recursive: true });
    fs.accessSync(dataDir, fs.constants.W_OK);
    const state = new StateStore(stateFile(dataDir));
    state.close();
    return { status: 'ok', name: 'data dir', detail: `${stateFile(dataDir)} opens read-write` };
  } catch (error) {
    return { status: 'fail', name: 'data dir', detail: `${dataDir}: ${(error as Error).message}` };
  }
}

function checkServerIp(serverIp: string): Check {
  const owner = Object.entries(os.networkInterfaces()).find(([, addresses]) => addresses?.some((address) => address.address === serverIp));
  return owner
    ? { status: 'ok', name: 'server ip', detail: `${serverIp} is on ${owner[0]}` }
    : { status: 'fail', name: 'server ip', detail: `${serverIp} is not configured on any interface of this machine` };
}

/** Binds and releases the port: proves the server could start, without sending anything. */
async function checkPort(protocol: 'tcp' | 'udp', port: number, host: string | undefined, what: string): Promise<Check> {
  const name = `${what} port ${protocol}/${port}`;
  try {
    if (protocol === 'tcp') {
      const server = net.createServer();
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen({ port, host }, resolve));
      await new Promise((resolve) => server.close(resolve));
    } else {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port, address: host }, resolve);
      });
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
    return { status: 'ok', name, detail: 'bindable' };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint = code === 'EACCES' ? 'needs root or CAP_NET_BIND_SERVICE (see docs/systemd/kickstand.service)' : code === 'EADDRINUSE' ? 'in use: is kickstand (or dnsmasq, tftpd) already running?' : (error as Error).message;
    return { status: 'fail', name, detail: `${code ?? 'error'}: ${hint}` };
  }
}

import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { BootService } from './boot/service.js';
import { StateStore } from './boot/state.js';
import { publicServerUrl, serverUrlAt, stateFile, type ServeConfig } from './config.js';
import { DefinitionStore } from './definitions/store.js';
import { startDhcpServer, type DhcpServer } from './dhcp/server.js';
import { createApp } from './http/app.js';
import type { Logger } from './log.js';
import { TemplateEngine } from './render/templates.js';
import { startTftpServer, type TftpServer } from './tftp/server.js';

export interface RunningServer {
  httpUrl: string;
  tftpPort: number | undefined;
  store: DefinitionStore;
  boot: BootService;
  close(): Promise<void>;
}

/**
 * Wires definitions, templates, build state and the transports (HTTP, TFTP,
 * DHCP); `close()` stops all of them. A transport that cannot start is fatal:
 * a provisioning server silently missing TFTP or DHCP is worse than none.
 */
export async function startServer(config: ServeConfig, log: Logger): Promise<RunningServer> {
  const store = new DefinitionStore({ root: config.root, log: log.child({ component: 'definitions' }) });
  const snapshot = await store.reload();
  store.watch();
  log.info({ root: config.root, files: snapshot.files.size, hosts: snapshot.hosts.byId.size, problems: snapshot.problems().length }, 'definitions loaded');

  const engine = new TemplateEngine(path.join(config.root, 'views'));
  const viewsWatcher = watchViews(engine, log);
  const state = new StateStore(stateFile(config.dataDir));
  const boot = new BootService(store, state, engine, log.child({ component: 'boot' }), config.dataDir);
  const closers: (() => Promise<void> | void)[] = [() => store.close(), () => viewsWatcher?.close(), () => state.close()];
  const close = async (): Promise<void> => {
    for (const closer of closers.reverse()) await closer();
  };

  try {
    const app = createApp({ root: config.root, store, engine, boot, log, apiToken: config.apiToken });
    const server = http.createServer(app);
    await listen(server, config.httpPort, config.host);
    closers.push(async () => {
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const address = server.address() as AddressInfo;
    const httpUrl = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    log.info({ url: httpUrl }, 'HTTP listening');
    const configuredUrl = publicServerUrl(config, address.port);
    const serverUrl = configuredUrl ?? `http://${os.hostname()}:${address.port}`;
    // Without --server-ip or --server-url, a TFTP config names the address the machine just
    // reached kickstand at, which it can reach again; the host name may not resolve there.
    const tftpServerUrl = (localAddress: string): string =>
      configuredUrl !== undefined || localAddress === '' ? serverUrl : serverUrlAt(localAddress, address.port);

    let tftp: TftpServer | undefined;
    if (config.tftpPort !== 0) {
      tftp = await startTftpServer({
        root: path.join(config.root, 'pxe'),
        host: config.host ?? config.serverIp,
        port: config.tftpPort,
        log: log.child({ component: 'tftp' }),
        generatedFile: (file, peer, localAddress) => boot.tftpFile(file, tftpServerUrl(localAddress), peer.address),
        onFileServed: (event) => boot.tftpServed(event.path, event.peer.address, event.bytes, event.ok),
      });
      closers.push(() => tftp!.close());
      log.info({ port: tftp.port, root: path.join(config.root, 'pxe') }, 'TFTP listening');
    }

    let dhcp: DhcpServer | undefined;
    if (config.dhcp !== 'off') {
      const started = await startDhcpServer({
        mode: config.dhcp,
        serverIp: config.serverIp!,
        interface: config.dhcpInterface,
        port: config.dhcpPort,
        pxePort: config.dhcpPxePort,
        clientPort: config.dhcpClientPort,
        httpBaseUrl: serverUrl,
        onlyKnownMacs: config.onlyKnownMacs,
        log: log.child({ component: 'dhcp' }),
        lookupHost: boot.dhcpLookup,
        reservedMacsFor: boot.reservedMacsFor,
        onEvent: (event) => boot.dhcpEvent(event),
        leaseFile: stateFile(config.dataDir),
        leaseSeconds: config.dhcpLeaseTime,
        pool: config.dhcpPool && {
          ...config.dhcpPool,
          subnetMask: config.dhcpNetmask!,
          router: config.dhcpRouter,
          dns: config.dhcpDns ?? [],
          domain: config.dhcpDomain,
          leaseSeconds: config.dhcpLeaseTime,
        },
      });
      if (!started.ok) throw new Error(`DHCP: ${started.error}`);
      dhcp = started.value;
      closers.push(() => dhcp!.close());
    }
    return { httpUrl, tftpPort: tftp?.port, store, boot, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function listen(server: http.Server, port: number, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** Admins may override templates: a change under views/ drops the compiled cache. */
function watchViews(engine: TemplateEngine, log: Logger): fs.FSWatcher | undefined {
  try {
    return fs.watch(engine.viewsDir, { recursive: true }, () => engine.reset());
  } catch (error) {
    log.warn({ err: error }, 'cannot watch views/; template edits need a restart');
    return undefined;
  }
}

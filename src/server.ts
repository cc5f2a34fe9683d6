import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { ServeConfig } from './config.js';
import { DefinitionStore } from './definitions/store.js';
import { createApp } from './http/app.js';
import type { Logger } from './log.js';
import { TemplateEngine } from './render/templates.js';

export interface RunningServer {
  httpUrl: string;
  store: DefinitionStore;
  close(): Promise<void>;
}

/** Wires definitions, templates and the HTTP transport; `close()` stops all of them. */
export async function startServer(config: ServeConfig, log: Logger): Promise<RunningServer> {
  const store = new DefinitionStore({ root: config.root, log: log.child({ component: 'definitions' }) });
  const snapshot = await store.reload();
  store.watch();
  const problems = snapshot.problems();
  log.info({ root: config.root, files: snapshot.files.size, problems: problems.length }, 'definitions loaded');

  const engine = new TemplateEngine(path.join(config.root, 'views'));
  const viewsWatcher = watchViews(engine, log);

  const app = createApp({ root: config.root, store, engine, log });
  const server = http.createServer(app).listen({ port: config.httpPort, host: config.host });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const httpUrl = `http://${shownHost}:${address.port}`;
  log.info({ url: httpUrl }, 'HTTP listening');

  return {
    httpUrl,
    store,
    close: async () => {
      store.close();
      viewsWatcher?.close();
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
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

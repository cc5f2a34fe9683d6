import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import { BootService } from '../../src/boot/service.js';
import { StateStore } from '../../src/boot/state.js';
import { stateFile } from '../../src/config.js';
import { DefinitionStore } from '../../src/definitions/store.js';
import { createApp } from '../../src/http/app.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { TemplateEngine } from '../../src/render/templates.js';

/** The repository root: the shipped example site lives here. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const parityDir = path.join(repoRoot, 'tests', 'fixtures', 'parity');

/** A private copy of the shipped site (builds/, views/, http/ and an empty pxe/) that a test may break. */
export function copySite(): { root: string; write(relative: string, text: string): void; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kickstand-site-'));
  for (const folder of ['builds', 'views', 'http']) fs.cpSync(path.join(repoRoot, folder), path.join(root, folder), { recursive: true });
  fs.mkdirSync(path.join(root, 'pxe')); // empty, as in a fresh clone: boot loaders are installed, not shipped
  return {
    root,
    write: (relative, text) => {
      fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
      fs.writeFileSync(path.join(root, relative), text);
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/**
 * An express app over a site, as `serve` wires it, for supertest. Build state
 * lives in a fresh data directory (a real SQLite file) unless one is given.
 */
export async function siteApp(
  root: string,
  options: { log?: Logger; dataDir?: string; apiToken?: string } = {},
): Promise<{ app: Express; store: DefinitionStore; engine: TemplateEngine; boot: BootService; dataDir: string }> {
  const log = options.log ?? silentLogger;
  const store = new DefinitionStore({ root, log });
  await store.reload();
  const engine = new TemplateEngine(path.join(root, 'views'));
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kickstand-state-'));
  const boot = new BootService(store, new StateStore(stateFile(dataDir)), engine, log, dataDir);
  return { app: createApp({ root, store, engine, boot, log, apiToken: options.apiToken }), store, engine, boot, dataDir };
}

export function parity(name: string): string {
  return fs.readFileSync(path.join(parityDir, `${name}.ks`), 'utf8');
}

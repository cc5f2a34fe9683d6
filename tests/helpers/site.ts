import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Express } from 'express';
import { DefinitionStore } from '../../src/definitions/store.js';
import { createApp } from '../../src/http/app.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { TemplateEngine } from '../../src/render/templates.js';

/** The repository root: the shipped example site lives here. */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const parityDir = path.join(repoRoot, 'tests', 'fixtures', 'parity');

/** A private copy of the shipped site (builds/, views/, http/) that a test may break. */
export function copySite(): { root: string; write(relative: string, text: string): void; remove(): void } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kickstand-site-'));
  for (const folder of ['builds', 'views', 'http']) fs.cpSync(path.join(repoRoot, folder), path.join(root, folder), { recursive: true });
  return {
    root,
    write: (relative, text) => {
      fs.mkdirSync(path.dirname(path.join(root, relative)), { recursive: true });
      fs.writeFileSync(path.join(root, relative), text);
    },
    remove: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

/** An express app over a site, as `serve` wires it, for supertest. */
export async function siteApp(root: string, log: Logger = silentLogger): Promise<{ app: Express; store: DefinitionStore; engine: TemplateEngine }> {
  const store = new DefinitionStore({ root, log });
  await store.reload();
  const engine = new TemplateEngine(path.join(root, 'views'));
  return { app: createApp({ root, store, engine, log }), store, engine };
}

export function parity(name: string): string {
  return fs.readFileSync(path.join(parityDir, `${name}.ks`), 'utf8');
}

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { Express } from 'express';
import type { DefinitionStore, ReloadEvent } from '../../src/definitions/store.js';
import { copySite, siteApp } from '../helpers/site.js';

// A live server over a private copy of the site, watching builds/ as `serve` does.
const site = copySite();
let app: Express;
let store: DefinitionStore;
before(async () => {
  ({ app, store } = await siteApp(site.root));
  store.watch();
});
after(() => {
  store.close();
  site.remove();
});

/** Resolves with the first reload after `change()` for which `until` holds. */
function afterReload(change: () => void, until: (event: ReloadEvent) => boolean = () => true): Promise<ReloadEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no reload within 10 s')), 10_000);
    const listener = (event: ReloadEvent): void => {
      if (!until(event)) return;
      clearTimeout(timer);
      store.off('reload', listener);
      resolve(event);
    };
    store.on('reload', listener);
    change();
  });
}

const docker = '/ks?build=virtual/docker&os=CentOS-7.6.1810';
const dockerFile = path.join(site.root, 'builds/virtual/docker.yaml');

test('an edit is picked up without a restart', async () => {
  await afterReload(() => fs.writeFileSync(dockerFile, 'swap: 0\nlvm: 0\nboot: 0\nfstype: ext4\n'), (e) => e.changed.includes('virtual/docker'));
  const res = await request(app).get(docker).expect(200);
  assert.match(res.text, /^part \/ --fstype ext4 --size 1 --grow --ondisk sda$/m);
});

for (const [what, broken, problem] of [
  ['bad YAML', 'swap: 0\nlvm: [0\n', /^builds\/virtual\/docker\.yaml:\d+: /],
  ['bootsize: big', 'swap: 0\nlvm: 0\nboot: 0\nbootsize: big\n', /^builds\/virtual\/docker\.yaml:4: bootsize: expected a whole number of MiB$/],
  ['swpasize: 1', 'swap: 0\nlvm: 0\nboot: 0\nswpasize: 1\n', /^builds\/virtual\/docker\.yaml:4: unknown key 'swpasize': did you mean 'swapsize'\?/],
] as const) {
  test(`a broken file (${what}) keeps its last good version serving, and fixing it is picked up`, async () => {
    const good = 'swap: 0\nlvm: 0\nboot: 0\nfstype: ext4\n';
    await afterReload(() => fs.writeFileSync(dockerFile, good), (e) => e.changed.includes('virtual/docker'));
    const event = await afterReload(() => fs.writeFileSync(dockerFile, broken), (e) => e.newProblems.length > 0);
    assert.ok(event.newProblems.some((p) => problem.test(`${p.file}:${p.line}: ${p.message}`)), JSON.stringify(event.newProblems));
    const res = await request(app).get(docker).expect(200);
    assert.match(res.text, /--fstype ext4/, 'still the last good version');
    const status = await request(app).get('/api/status').expect(200);
    assert.ok(status.body.problems.some((p: { file: string; line: number; message: string }) => problem.test(`${p.file}:${p.line}: ${p.message}`)), 'reported by /api/status');
    await afterReload(() => fs.writeFileSync(dockerFile, 'swap: 0\nlvm: 0\nboot: 0\nfstype: btrfs\n'), (e) => e.changed.includes('virtual/docker'));
    assert.deepEqual(store.current.problems(), []);
    assert.match((await request(app).get(docker).expect(200)).text, /--fstype btrfs/);
  });
}

test('an atomic replace by rename is picked up', async () => {
  const temp = path.join(site.root, 'builds/virtual/.docker.yaml.tmp');
  fs.writeFileSync(temp, 'swap: 0\nlvm: 0\nboot: 0\nfstype: ext3\n');
  await afterReload(() => fs.renameSync(temp, dockerFile), (e) => e.changed.includes('virtual/docker'));
  assert.match((await request(app).get(docker).expect(200)).text, /--fstype ext3/);
});

test('a new metal host is served once its file appears, and is 404 again when deleted', async () => {
  const url = '/ks?build=metal/web02&os=CentOS-7.6.1810';
  await request(app).get(url).expect(404);
  const file = path.join(site.root, 'builds/metal/web02.yaml');
  await afterReload(
    () => fs.writeFileSync(file, 'fqdn: web02.example.com\ndevice: eth0\nipaddr: 192.0.2.11\nnetmask: 255.255.255.0\ngateway: 192.0.2.1\nnameserver: 192.0.2.53\n'),
    (e) => e.changed.includes('metal/web02'),
  );
  assert.match((await request(app).get(url).expect(200)).text, /--ip 192\.0\.2\.11 --hostname web02\.example\.com/);
  await afterReload(() => fs.rmSync(file), (e) => e.changed.includes('metal/web02'));
  await request(app).get(url).expect(404);
});

test('a new file that never validated answers 422 naming file and line', async () => {
  const file = path.join(site.root, 'builds/metal/web03.yaml');
  await afterReload(() => fs.writeFileSync(file, 'fqdn: web03.example.com\nipaddr: 192.0.2.300\n'), (e) => e.changed.includes('metal/web03'));
  const res = await request(app).get('/ks?build=metal/web03&os=CentOS-7.6.1810').expect(422);
  assert.match(res.text, /^builds\/metal\/web03\.yaml:2: ipaddr: expected a dotted IPv4 address/);
  fs.rmSync(file);
});

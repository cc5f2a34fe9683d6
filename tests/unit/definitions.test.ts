import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mergeLayers } from '../../src/definitions/merge.js';
import { resolveBuild } from '../../src/definitions/resolve.js';
import { parseYamlSource } from '../../src/definitions/source.js';
import { DefinitionStore } from '../../src/definitions/store.js';
import { likelyTypoOf } from '../../src/definitions/validate.js';
import { explainBuild } from '../../src/definitions/explain.js';
import { silentLogger } from '../../src/log.js';
import { copySite } from '../helpers/site.js';

const sites: { remove(): void }[] = [];
after(() => sites.forEach((site) => site.remove()));

async function load(files: Record<string, string>) {
  const site = copySite();
  sites.push(site);
  for (const [relative, text] of Object.entries(files)) site.write(relative, text);
  const store = new DefinitionStore({ root: site.root, log: silentLogger });
  return { site, store, snapshot: await store.reload() };
}

test('merge: objects merge deeply, scalars and arrays replace, origins follow the last writer', () => {
  const a = parseYamlSource('a.yaml', 'disk:\n  size: 10\n  label: x\nlist: [1, 2]\nname: a\n');
  const b = parseYamlSource('b.yaml', 'disk:\n  size: 20\nlist: [3]\n');
  assert.ok(a.ok && b.ok);
  const merged = mergeLayers([a.source, b.source]);
  assert.deepEqual(merged.values, { disk: { size: 20, label: 'x' }, list: [3], name: 'a' });
  assert.deepEqual(merged.origins.get('disk.size'), { file: 'b.yaml', line: 2 });
  assert.deepEqual(merged.origins.get('disk.label'), { file: 'a.yaml', line: 3 });
  assert.deepEqual(merged.origins.get('list'), { file: 'b.yaml', line: 3 });
  assert.deepEqual(merged.origins.get('name'), { file: 'a.yaml', line: 5 });
  const c = parseYamlSource('c.yaml', 'disk: none\n');
  assert.ok(c.ok);
  const replaced = mergeLayers([a.source, c.source]);
  assert.equal(replaced.values.disk, 'none');
  assert.equal(replaced.origins.has('disk.size'), false, 'children of a replaced object forget their origins');
});

test('layering: defaults -> type defaults -> build, with the file and line of each value', async () => {
  const { snapshot } = await load({});
  const resolved = resolveBuild(snapshot, { type: 'virtual', name: 'docker', os: 'CentOS-7.6.1810' });
  assert.equal(resolved.vars.lvm, false);
  assert.equal(resolved.vars.bootsize, 400);
  assert.equal(resolved.vars.fstype, 'xfs');
  assert.deepEqual(resolved.origins.get('lvm'), { file: 'builds/virtual/docker.yaml', line: 3 });
  assert.deepEqual(resolved.origins.get('bootsize'), { file: 'builds/virtual/defaults.yaml', line: 3 });
  assert.deepEqual(resolved.origins.get('fstype'), { file: 'builds/defaults.yaml', line: 4 });
  assert.deepEqual(resolved.files, ['builds/defaults.yaml', 'builds/virtual/defaults.yaml', 'builds/virtual/docker.yaml', 'builds/packer/site.json', 'builds/packer/os/CentOS-7.6.1810.json']);
});

test('os= splits at the first hyphen and fqdn at the first dot', async () => {
  const { snapshot } = await load({ 'builds/metal/db01.yaml': 'fqdn: db01.rack-2.example.com\n', 'builds/packer/os/Red-Hat-8.9.json': '{"repo_server": "http://r"}\n' });
  const resolved = resolveBuild(snapshot, { type: 'metal', name: 'db01', os: 'Red-Hat-8.9' });
  assert.equal(resolved.vars.os_name, 'Red');
  assert.equal(resolved.vars.os_version, 'Hat-8.9');
  assert.equal(resolved.vars.hostname, 'db01');
  assert.equal(resolved.vars.domain, 'rack-2.example.com');
  assert.deepEqual(resolved.origins.get('hostname'), { file: 'builds/metal/db01.yaml', line: 1 });
});

test('missing Packer files become the PHP comments', async () => {
  const { site, store } = await load({});
  const { rmSync } = await import('node:fs');
  rmSync(`${site.root}/builds/packer/site.json`);
  const snapshot = await store.reload();
  const resolved = resolveBuild(snapshot, { type: 'virtual', name: 'aws', os: 'Debian-12' });
  assert.deepEqual(resolved.comments, [
    "# Build 'aws' not found... continuing with defaults",
    "# Packer template 'builds/packer/site.json' not found... continuing without site variables",
    "# Packer template 'builds/packer/os/Debian-12.json' not found... continuing without OS variables",
  ]);
});

test('Packer HCL2 var-files are read like the JSON ones, with lines', async () => {
  const { site, store } = await load({ 'builds/packer/os/Rocky-9.4.pkrvars.hcl': '# Rocky\nos_name = "Rocky"\nrepo_server = "http://dl.rockylinux.org/vault/rocky"\n' });
  void site;
  const snapshot = await store.reload();
  const resolved = resolveBuild(snapshot, { type: 'virtual', name: 'gcp', os: 'Rocky-9.4' });
  assert.equal(resolved.packerOs.repo_server, 'http://dl.rockylinux.org/vault/rocky');
  assert.deepEqual(resolved.origins.get('packer_os.repo_server'), { file: 'builds/packer/os/Rocky-9.4.pkrvars.hcl', line: 3 });
});

test('validation errors name the file and line', async () => {
  const { snapshot } = await load({
    'builds/virtual/bad1.yaml': 'swap: 0\nbootsize: big\n',
    'builds/virtual/bad2.yaml': 'lvm: 0\nswpasize: 1\n',
    'builds/virtual/bad3.yaml': 'swap: 0\n  lvm: : 1\n',
    'builds/virtual/bad4.yaml': 'swap: 0\nswap: 1\n',
    'builds/metal/bad5.yaml': 'mac: 52:54:00:zz:00:01\nipaddr: 300.1.1.1\n',
    'builds/packer/os/Bad-1.pkrvars.hcl': 'a = 1\nrepo_server = \n',
    'builds/virtual/strictly.yaml': 'strict: true\n',
  });
  const messages = snapshot.problems().map((p) => `${p.file}:${p.line}: ${p.message}`);
  const expect = (pattern: RegExp): void => assert.ok(messages.some((m) => pattern.test(m)), `${pattern} in\n${messages.join('\n')}`);
  expect(/^builds\/virtual\/bad1\.yaml:2: bootsize: expected a whole number of MiB$/);
  expect(/^builds\/virtual\/bad2\.yaml:2: unknown key 'swpasize': did you mean 'swapsize'\?/);
  expect(/^builds\/virtual\/bad3\.yaml:2: /);
  expect(/^builds\/virtual\/bad4\.yaml:2: Map keys must be unique/);
  expect(/^builds\/metal\/bad5\.yaml:1: mac\[0\]: '52:54:00:zz:00:01' is not a MAC address/);
  expect(/^builds\/metal\/bad5\.yaml:2: ipaddr: expected a dotted IPv4 address/);
  expect(/^builds\/packer\/os\/Bad-1\.pkrvars\.hcl:2: Invalid expression/);
  expect(/^builds\/virtual\/strictly\.yaml:1: 'strict' belongs in a type's defaults file/);
});

test('a build whose file never validated answers 422 with its problems', async () => {
  const { snapshot } = await load({ 'builds/virtual/bad1.yaml': 'bootsize: big\n' });
  assert.throws(() => resolveBuild(snapshot, { type: 'virtual', name: 'bad1', os: 'CentOS-7.6.1810' }), (error: Error & { status?: number }) => {
    assert.equal(error.status, 422);
    assert.match(error.message, /^builds\/virtual\/bad1\.yaml:1: bootsize: expected a whole number of MiB \(no valid version/);
    return true;
  });
});

test('two files defining the same build are refused, naming both', async () => {
  const { snapshot } = await load({ 'builds/virtual/docker.json': '{"swap": 0}' });
  assert.ok(snapshot.problems().some((p) => p.message === "builds/virtual/docker.json and builds/virtual/docker.yaml both define 'virtual/docker'; remove one"));
});

test('unknown keys pass through to templates; 0/1 become booleans; MACs are normalised', async () => {
  const { snapshot } = await load({ 'builds/metal/h1.yaml': 'fqdn: h1.example.com\nrack: B12\nipaddr6: "2001:db8::1"\nmac: [AA-BB-CC-DD-EE-FF, aabb.ccdd.ee00]\n' });
  assert.deepEqual(snapshot.problems(), []);
  const resolved = resolveBuild(snapshot, { type: 'metal', name: 'h1' });
  assert.equal(resolved.vars.rack, 'B12');
  assert.equal(resolved.vars.lvm, true);
  assert.deepEqual(resolved.vars.mac, ['aa:bb:cc:dd:ee:ff', 'aa:bb:cc:dd:ee:00']);
});

test('typo detection: close misspellings of known keys, not deliberate extensions', () => {
  assert.equal(likelyTypoOf('swpasize'), 'swapsize');
  assert.equal(likelyTypoOf('bootsiez'), 'bootsize');
  assert.equal(likelyTypoOf('fsytpe'), 'fstype');
  assert.equal(likelyTypoOf('ipaddr6'), undefined);
  assert.equal(likelyTypoOf('devices'), undefined);
  assert.equal(likelyTypoOf('rack'), undefined);
  assert.equal(likelyTypoOf('swapsize'), undefined);
});

test('explain redacts secrets and names every source', async () => {
  const { snapshot } = await load({});
  const rows = explainBuild(resolveBuild(snapshot, { type: 'virtual', name: 'docker', os: 'CentOS-7.6.1810' }));
  const byKey = new Map(rows.map((row) => [row.key, row]));
  assert.deepEqual(byKey.get('lvm'), { key: 'lvm', value: false, source: 'builds/virtual/docker.yaml:3' });
  assert.equal(byKey.get('packer_site.root_pass')?.value, '<redacted>');
  assert.equal(byKey.get('packer_site.lang')?.source, 'builds/packer/site.json:7');
  assert.equal(byKey.get('os_version')?.source, 'request os=CentOS-7.6.1810');
  assert.ok(rows.every((row) => row.source !== 'unknown'), 'every value has a source');
});

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { Express } from 'express';
import type { BootService } from '../../src/boot/service.js';
import type { DefinitionStore } from '../../src/definitions/store.js';
import { StateStore } from '../../src/boot/state.js';
import { stateFile } from '../../src/config.js';
import { decodePacket } from '../../src/dhcp/codec.js';
import { read } from '../../src/dhcp/options.js';
import { uefiX64Discover } from '../dhcp/firmware-packets.js';
import { copySite, repoRoot, siteApp } from '../helpers/site.js';

const site = copySite();
const apiToken = 'test-api-token-0123456789';
let app: Express;
let boot: BootService;
let siteStore: DefinitionStore;
let dataDir: string;
let server: http.Server;
let port: number;
before(async () => {
  site.write('builds/metal/always01.yaml', 'fqdn: always01.example.com\nos: CentOS-7.6.1810\nmac: 52-54-00-00-00-a1\ninstall: always\nkernel_args: [console=ttyS0, inst.text]\n');
  site.write('builds/metal/never01.yaml', 'fqdn: never01.example.com\nos: CentOS-7.6.1810\nmac: 5254.0000.00a2\ninstall: never\n');
  site.write('builds/metal/pxe01.yaml', 'fqdn: pxe01.example.com\nos: CentOS-7.6.1810\nmac: 52:54:00:00:00:a3\nloader: pxelinux\nuuid: 4C4C4544-0042-3510-8052-B7C04F4B4D31\n');
  site.write('builds/metal/grub01.yaml', 'fqdn: grub01.example.com\nos: CentOS-7.6.1810\nmac: 52:54:00:00:00:a4\nloader: grub\n');
  ({ app, boot, dataDir, store: siteStore } = await siteApp(site.root, { apiToken }));
  server = http.createServer(app).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => {
  server.close();
  site.remove();
});

/** Runs `check` against a private copy of the example site, removed afterwards. */
async function withOtherSite(check: (other: ReturnType<typeof copySite>) => Promise<void>): Promise<void> {
  const other = copySite();
  try {
    await check(other);
  } finally {
    other.remove();
  }
}

/** A site's definition problems as `file:line: message`, as validate prints them. */
const problemLines = (store: DefinitionStore): string[] => store.current.problems().map((p) => `${p.file}:${p.line}: ${p.message}`);

/** A request from another loopback address, standing in for a machine other than the host. */
function fromAddress(localAddress: string, method: string, path: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, localAddress, headers }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, text }));
    });
    req.on('error', reject);
    req.end();
  });
}

const host = 'ks.example.com:8080';
const web01Mac = '52:54:00:12:34:56';

test('/boot.ipxe chains to /ipxe with the machine\'s MAC, UUID and architecture', async () => {
  const res = await request(app).get('/boot.ipxe').set('Host', host).expect(200);
  assert.match(res.text, /^#!ipxe\n/);
  assert.match(res.text, /^chain --autofree http:\/\/ks\.example\.com:8080\/ipxe\?mac=\$\{netX\/mac\}&uuid=\$\{uuid\}&arch=\$\{buildarch\} \|\| goto local$/m);
  assert.match(res.text, /^exit$/m, 'an unknown machine falls back to its local disk');
});

test('the whole chain: boot.ipxe -> ipxe -> ks -> built -> ipxe gives local boot -> reinstall installs again', async () => {
  const install = await request(app).get(`/ipxe?mac=${web01Mac}&uuid=&arch=x86_64`).set('Host', host).expect(200);
  assert.match(install.text, /^#!ipxe\n# kickstand: installing metal\/web01 \(state pending \(install: once\)\)\n/);
  assert.match(
    install.text,
    /^kernel http:\/\/vault\.centos\.org\/7\.6\.1810\/os\/x86_64\/images\/pxeboot\/vmlinuz initrd=initrd\.img inst\.ks=http:\/\/ks\.example\.com:8080\/ks\?build=metal\/web01&os=CentOS-7\.6\.1810 ip=192\.0\.2\.10::192\.0\.2\.1:255\.255\.255\.0:web01:eth0:none nameserver=192\.0\.2\.53 nameserver=192\.0\.2\.54$/m,
  );
  assert.match(install.text, /^initrd --name initrd\.img http:\/\/vault\.centos\.org\/7\.6\.1810\/os\/x86_64\/images\/pxeboot\/initrd\.img\nboot$/m);

  const ks = await request(app).get('/ks?build=metal/web01&os=CentOS-7.6.1810').set('Host', host).expect(200);
  assert.match(ks.text, /^curl -fsS -X POST 'http:\/\/ks\.example\.com:8080\/built\?build=metal\/web01' /m, "%post reports back");
  assert.equal(boot.state.get('metal/web01').state, 'installing');

  const stranger = await fromAddress('127.0.0.9', 'POST', '/built?build=metal/web01');
  assert.equal(stranger.status, 403, 'only the host itself may say it is built');
  assert.match(stranger.text, /refused from 127\.0\.0\.9/);
  assert.equal(boot.state.get('metal/web01').state, 'installing');

  await request(app).post('/built?build=metal/web01').expect(200, 'metal/web01 marked built\n');
  assert.equal(boot.state.get('metal/web01').state, 'built');

  const local = await request(app).get(`/ipxe?mac=${web01Mac.toUpperCase()}`).set('Host', host).expect(200);
  assert.equal(local.text, '#!ipxe\n# kickstand: metal/web01: built (install: once); booting from local disk\nexit\n');

  // An admin reading a built host's kickstart must not put it back into build mode.
  await request(app).get('/ks?build=metal/web01').expect(200);
  assert.equal(boot.state.get('metal/web01').state, 'built');

  const refused = await fromAddress('127.0.0.9', 'POST', '/api/hosts/web01/reinstall');
  assert.equal(refused.status, 403);
  // A reverse proxy on this machine makes every request come from loopback.
  for (const header of ['X-Forwarded-For', 'Forwarded', 'X-Real-IP', 'X-Forwarded-Prefix']) {
    const proxied = await fromAddress('127.0.0.1', 'POST', '/api/hosts/web01/reinstall', { [header]: header === 'Forwarded' ? 'for=10.9.9.9' : '10.9.9.9' });
    assert.equal(proxied.status, 403, `loopback with ${header}`);
    assert.match(proxied.text, /through a proxy/);
  }
  assert.equal(boot.state.get('metal/web01').state, 'built');
  const allowed = await fromAddress('127.0.0.9', 'POST', '/api/hosts/web01/reinstall', { Authorization: `Bearer ${apiToken}` });
  assert.equal(allowed.status, 200);
  assert.equal(JSON.parse(allowed.text).state, 'pending');
  const again = await request(app).get(`/ipxe?mac=${web01Mac}`).set('Host', host).expect(200);
  assert.match(again.text, /^kernel .* inst\.ks=/m);

  const events = (await request(app).get('/api/hosts/web01').expect(200)).body.events.map((event: { kind: string }) => event.kind);
  assert.deepEqual(events.slice(0, 6), ['boot-script', 'reinstall', 'kickstart', 'boot-script', 'built', 'kickstart']);
});

test('/built with the host token is accepted from any address; a wrong token is not', async () => {
  const wrong = await fromAddress('127.0.0.9', 'POST', '/built?build=metal/always01&token=00000000000000000000000000000000');
  assert.equal(wrong.status, 403);
  const right = await fromAddress('127.0.0.9', 'POST', `/built?build=metal/always01&token=${boot.token('metal/always01')}`);
  assert.equal(right.status, 200);
});

test('/built trusts the address of the install under way, not whoever asked for a boot script', async () => {
  // A host whose installer comes from behind NAT (127.0.0.4), not from its ipaddr.
  site.write('builds/metal/dhcp01.yaml', 'fqdn: dhcp01.example.com\nos: CentOS-7.6.1810\nmac: 52:54:00:00:00:a5\ndevice: eth0\nipaddr: 192.0.2.20\nnetmask: 255.255.255.0\ngateway: 192.0.2.1\nnameserver: 192.0.2.53\nswapsize: 4096\nrootsize: 51200\nefi: 1\n');
  await siteStore.reload();
  const ipxe = await fromAddress('127.0.0.3', 'GET', '/ipxe?mac=52:54:00:00:00:a5');
  assert.equal(ipxe.status, 200, ipxe.text);
  assert.equal((await fromAddress('127.0.0.3', 'POST', '/built?build=metal/dhcp01')).status, 403, 'anyone may ask /ipxe for any MAC');
  const kickstart = await fromAddress('127.0.0.4', 'GET', '/ks?build=metal/dhcp01&os=CentOS-7.6.1810');
  assert.equal(kickstart.status, 200, kickstart.text);
  assert.equal(boot.state.get('metal/dhcp01').kickstart_ip, '127.0.0.4');
  boot.reinstall('dhcp01', 'test');
  assert.equal(boot.state.get('metal/dhcp01').kickstart_ip, null, 'reinstall forgets the last install\'s address');
  assert.equal((await fromAddress('127.0.0.4', 'POST', '/built?build=metal/dhcp01')).status, 403);
  assert.equal((await fromAddress('127.0.0.4', 'GET', '/ks?build=metal/dhcp01&os=CentOS-7.6.1810')).status, 200);
  // Someone else reading the kickstart meanwhile does not take the install over.
  assert.equal((await fromAddress('127.0.0.5', 'GET', '/ks?build=metal/dhcp01&os=CentOS-7.6.1810')).status, 200);
  assert.equal((await fromAddress('127.0.0.5', 'POST', '/built?build=metal/dhcp01')).status, 403);
  assert.equal((await fromAddress('127.0.0.4', 'POST', '/built?build=metal/dhcp01')).status, 200);
  assert.equal(boot.state.get('metal/dhcp01').kickstart_ip, null, 'built forgets it too');
});

test('install: always installs even when built; install: never always boots locally', async () => {
  await fromAddress('127.0.0.9', 'POST', `/built?build=metal/always01&token=${boot.token('metal/always01')}`);
  const always = await request(app).get('/ipxe?mac=52:54:00:00:00:a1').expect(200);
  assert.match(always.text, /^kernel \S+ initrd=initrd\.img inst\.ks=\S+ console=ttyS0 inst\.text$/m, 'kernel_args are appended');
  // Its kickstart fetch starts the next install, so /built from that address is accepted again.
  assert.equal(boot.state.get('metal/always01').state, 'built');
  boot.kickstartServed('metal/always01', '127.0.0.6', 'test');
  assert.deepEqual([boot.state.get('metal/always01').state, boot.state.get('metal/always01').kickstart_ip], ['installing', '127.0.0.6']);
  assert.equal((await fromAddress('127.0.0.6', 'POST', '/built?build=metal/always01')).status, 200);
  const never = await request(app).get('/ipxe?mac=52:54:00:00:00:a2').expect(200);
  assert.match(never.text, /install: never; booting from local disk\nexit\n$/);
});

test('boot loaders named by the DHCP policy are served over HTTP from pxe/ (UEFI HTTP boot), nothing else of pxe/', async () => {
  site.write('pxe/ipxe.efi', 'MZ fake efi');
  site.write('pxe/secret.txt', 'not a boot loader');
  const res = await request(app).get('/ipxe.efi').buffer(true).parse((r, done) => {
    const chunks: Buffer[] = [];
    r.on('data', (c: Buffer) => chunks.push(c));
    r.on('end', () => done(null, Buffer.concat(chunks)));
  }).expect(200);
  assert.equal((res.body as Buffer).toString(), 'MZ fake efi');
  await request(app).get('/secret.txt').expect(404);
  await request(app).get('/snp.efi').expect(404);
});

test('/ipxe finds a host by UUID, answers 404 for an unknown machine and 400 for a malformed MAC', async () => {
  const byUuid = await request(app).get('/ipxe?mac=&uuid=4c4c4544-0042-3510-8052-b7c04f4b4d31').expect(200);
  assert.match(byUuid.text, /installing metal\/pxe01/);
  await request(app).get('/ipxe?mac=52:54:00:99:99:99&uuid=${uuid}').expect(404);
  const bad = await request(app).get('/ipxe?mac=52:54:00:zz').expect(400);
  assert.match(bad.text, /^malformed mac/);
  await request(app).get('/ipxe').expect(400);
});

test('unknown machines get the site\'s views/boot/unknown.ipxe.njk when there is one, else 404', async () => {
  const example = fs.readFileSync(path.join(repoRoot, 'views', 'boot', 'unknown.ipxe.njk.example'), 'utf8');
  site.write('views/boot/unknown.ipxe.njk', example);
  try {
    const res = await request(app).get('/ipxe?mac=52:54:00:99:99:99&uuid=${uuid}&arch=x86_64').expect(200);
    assert.match(res.text, /^#!ipxe\n# kickstand: unknown machine 52:54:00:99:99:99 \(uuid -, arch x86_64\)\n/);
    assert.match(res.text, /^exit$/m);
    const known = await request(app).get(`/ipxe?mac=${web01Mac}`).expect(200);
    assert.doesNotMatch(known.text, /unknown machine/);
    await request(app).get('/ipxe?mac=52:54:00:99:99:99&arch=x86%2064').expect(400);
  } finally {
    fs.rmSync(path.join(site.root, 'views', 'boot', 'unknown.ipxe.njk'));
  }
  const gone = await request(app).get('/ipxe?mac=52:54:00:99:99:99').expect(404);
  assert.match(gone.text, /views\/boot\/unknown\.ipxe\.njk would answer it/);
});

test('pxelinux and GRUB configs for TFTP render the same decision', () => {
  const pxelinux = boot.tftpFile('pxelinux.cfg/01-52-54-00-00-00-a3', 'http://192.0.2.1:8080', '192.0.2.50')!;
  assert.match(pxelinux, /^DEFAULT install$/m);
  assert.match(pxelinux, /^  KERNEL images\/CentOS-7\.6\.1810\/vmlinuz$/m);
  assert.match(pxelinux, /^  APPEND initrd=images\/CentOS-7\.6\.1810\/initrd\.img inst\.ks=http:\/\/192\.0\.2\.1:8080\/ks\?build=metal\/pxe01&os=CentOS-7\.6\.1810$/m);
  assert.match(pxelinux, /^  LOCALBOOT 0$/m);
  const fallback = boot.tftpFile('pxelinux.cfg/default', 'http://192.0.2.1:8080', '192.0.2.51')!;
  assert.match(fallback, /^DEFAULT local$/m);
  assert.equal(boot.tftpFile('pxelinux.cfg/01-52-54-00-99-99-99', 'http://x', '192.0.2.52'), undefined, 'unknown MAC: fall through to default');
  const grub = boot.tftpFile('grub/grub.cfg-01-52-54-00-00-00-a4', 'http://192.0.2.1:8080', '192.0.2.53')!;
  assert.match(grub, /^set default=install$/m);
  assert.match(grub, /^  linux \/images\/CentOS-7\.6\.1810\/vmlinuz 'inst\.ks=http:\/\/192\.0\.2\.1:8080\/ks\?build=metal\/grub01&os=CentOS-7\.6\.1810'$/m);
  assert.match(grub, /^  initrd \/images\/CentOS-7\.6\.1810\/initrd\.img$/m);
  assert.match(boot.tftpFile('grub/grub.cfg', 'http://x', '192.0.2.54')!, /^set default=local$/m);
  assert.equal(boot.tftpFile('undionly.kpxe', 'http://x', '192.0.2.55'), undefined, 'boot loaders come from pxe/ on disk');
});

test('DHCP lookups: loader and the static reservation come from the host definition', () => {
  assert.deepEqual(boot.dhcpLookup('52:54:00:12:34:56', undefined), {
    known: true,
    loader: 'ipxe',
    reservation: { ip: '192.0.2.10', subnetMask: '255.255.255.0', router: '192.0.2.1', dns: ['192.0.2.53', '192.0.2.54'], hostname: 'web01', domain: 'example.com' },
  });
  assert.equal(boot.dhcpLookup('52:54:00:00:00:a3', undefined)?.loader, 'pxelinux');
  assert.equal(boot.dhcpLookup('52:54:00:ff:ff:ff', undefined), undefined);
  assert.deepEqual(boot.reservedMacsFor('192.0.2.10'), ['52:54:00:12:34:56']);
  // A NIC no file lists, on the machine whose UUID (as dmidecode prints it) pxe01 names: the
  // firmware's option 97 bytes find the host.
  const discover = decodePacket(uefiX64Discover());
  assert.ok(discover.ok);
  assert.equal(boot.dhcpLookup('52:54:00:99:99:99', read.clientUuid(discover.value.options))?.loader, 'pxelinux');
});

test('build state survives a restart (a new process opening the same SQLite file)', () => {
  const reopened = new StateStore(stateFile(dataDir));
  try {
    assert.equal(reopened.get('metal/always01').state, 'built');
    assert.ok(reopened.events('metal/web01').length >= 6);
  } finally {
    reopened.close();
  }
});

test('a new file claiming a serving host\'s MAC and address does not take the machine over on live reload', async () => {
  await withOtherSite(async (other) => {
    const { store, boot: otherBoot } = await siteApp(other.root);
    const before = otherBoot.ipxeScript({ mac: web01Mac }, 'http://ks', '192.0.2.10');
    assert.match(before, /installing metal\/web01/);
    other.write('builds/metal/aaa.yaml', 'fqdn: aaa.example.com\nos: CentOS-7.6.1810\nmac: [52-54-00-12-34-56, 52:54:00:00:00:aa]\nipaddr: 192.0.2.10\n');
    await store.reload();
    assert.match(otherBoot.ipxeScript({ mac: web01Mac }, 'http://ks', '192.0.2.10'), /installing metal\/web01/, 'the machine is still web01');
    assert.deepEqual(otherBoot.reservedMacsFor('192.0.2.10'), [web01Mac], 'the DHCP reservation stays with web01');
    assert.equal(otherBoot.dhcpLookup('52:54:00:00:00:aa', undefined)?.reservation, undefined, "aaa's own NIC does not get web01's address");
    const problems = problemLines(store);
    assert.ok(problems.includes('builds/metal/aaa.yaml:3: MAC 52:54:00:12:34:56 is also claimed by builds/metal/web01.yaml; a MAC belongs to one host (metal/web01 keeps it)'), problems.join('\n'));
    assert.ok(problems.includes('builds/metal/aaa.yaml:4: address 192.0.2.10 is also claimed by builds/metal/web01.yaml; an address belongs to one host (metal/web01 keeps it)'), problems.join('\n'));
  });
});

test('placeholder UUIDs that many boards report identify no machine', async () => {
  await withOtherSite(async (other) => {
    other.write('builds/metal/ph01.yaml', 'fqdn: ph01.example.com\nmac: 52:54:00:00:00:c1\nuuid: 03000200-0400-0500-0006-000700080009\n');
    const { store, boot: otherBoot } = await siteApp(other.root);
    assert.ok(store.current.problems().some((p) => p.file === 'builds/metal/ph01.yaml' && /placeholder many boards report/.test(p.message)));
    assert.equal(otherBoot.hostByMacOrUuid(undefined, '03000200-0400-0500-0006-000700080009'), undefined);
  });
});

test('a MAC claimed by two host files at start answers neither host for it', async () => {
  await withOtherSite(async (other) => {
    other.write('builds/metal/aaa.yaml', 'fqdn: aaa.example.com\nos: CentOS-7.6.1810\nmac: 52-54-00-12-34-56\n');
    const { boot: otherBoot, store } = await siteApp(other.root);
    assert.throws(() => otherBoot.ipxeScript({ mac: web01Mac }, 'http://ks', '192.0.2.10'), /no host definition/);
    const problems = store.current.problems().map((p) => p.message);
    assert.equal(problems.filter((p) => p.includes('no host is answered for it until one file gives it up')).length, 2, problems.join('\n'));
  });
});

test('a MAC or UUID claimed by two host files is a problem naming both', async () => {
  await withOtherSite(async (other) => {
    other.write('builds/metal/clone.yaml', 'fqdn: clone.example.com\nmac: 52:54:00:12:34:56\n');
    const { store } = await siteApp(other.root);
    const problems = problemLines(store);
    assert.ok(problems.some((p) => /builds\/metal\/(clone|web01)\.yaml:\d+: MAC 52:54:00:12:34:56 is also claimed by builds\/metal\/(web01|clone)\.yaml/.test(p)), problems.join('\n'));
  });
});

test('a host-token key too short to keep tokens secret stops the start, saying what to do', async () => {
  await withOtherSite(async (other) => {
    other.write('state/host-token.key', 'abc');
    await assert.rejects(siteApp(other.root, { dataDir: `${other.root}/state` }), /host-token\.key holds 3 bytes, too short for host tokens .* delete it/);
  });
});

test('kernel_args: items with spaces are split for every loader alike; quotes and $ are a problem naming file and line', async () => {
  await withOtherSite(async (other) => {
    other.write('builds/metal/args01.yaml', "fqdn: args01.example.com\nmac: 52:54:00:00:00:b1\nkernel_args:\n  - console=ttyS0,115200n8\n  - console=tty0  inst.text\n  - rd.x=${foo}\n  - inst.addrepo='x'\n");
    other.write('builds/metal/args02.yaml', 'fqdn: args02.example.com\nos: CentOS-7.6.1810\nmac: 52:54:00:00:00:b2\nkernel_args: ["console=tty0 console=ttyS0,115200n8", inst.text]\n');
    const { store, boot: otherBoot } = await siteApp(other.root);
    const problems = problemLines(store);
    const args = problems.filter((p) => p.startsWith('builds/metal/args01.yaml:') && /without quotes, \$ or backslashes/.test(p));
    assert.equal(args.length, 2, problems.join('\n'));
    assert.match(args.join('\n'), /kernel_args\[2\]/);
    assert.match(args.join('\n'), /kernel_args\[3\]/);
    assert.match(otherBoot.ipxeScript({ mac: '52:54:00:00:00:b2' }, 'http://ks', '192.0.2.50'), / console=tty0 console=ttyS0,115200n8 inst\.text$/m);
  });
});

import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, test } from 'node:test';
import { StateStore } from '../../src/boot/state.js';
import { stateFile } from '../../src/config.js';
import { copySite, parity, repoRoot } from '../helpers/site.js';

// The built CLI, as `npx kickstand` runs it (`npm test` builds dist/ first).
const cli = path.join(repoRoot, 'dist', 'cli.js');
const run = (...args: string[]) => spawnSync(process.execPath, [cli, ...args], { cwd: repoRoot, encoding: 'utf8' });
const sites: { remove(): void }[] = [];
after(() => sites.forEach((site) => site.remove()));

test('render prints the kickstart and exits 0', () => {
  const result = run('render', 'virtual/aws', '--os', 'CentOS-7.6.1810');
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stdout, parity('virtual-aws'));
  const metal = run('render', 'metal/web01', '--os', 'CentOS-7.6.1810', '--base-url', 'http://ks.example.com');
  assert.equal(metal.stdout, parity('metal-web01'));
});

test('render exits 1 for an unknown strict build and 2 for a malformed one', () => {
  const unknown = run('render', 'metal/nosuch');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /^kickstand: unknown build 'metal\/nosuch'/);
  const malformed = run('render', '../../etc');
  assert.equal(malformed.status, 2);
  assert.match(malformed.stderr, /^kickstand: malformed build/);
  assert.equal(run('render').status, 2, 'missing argument is a usage error');
});

test('validate passes on the shipped examples', () => {
  const result = run('validate');
  assert.equal(result.status, 0, result.stdout);
  assert.match(result.stdout, /0 problems\n$/);
});

test('validate prints file:line for each broken file and exits 1', () => {
  const site = copySite();
  sites.push(site);
  site.write('builds/virtual/azure.yaml', 'swap: 0\nlvm: [0\n');
  site.write('builds/virtual/gcp.yaml', 'swap: 0\nbootsize: big\n');
  site.write('builds/virtual/openstack.yaml', 'swap: 0\nswpasize: 1\n');
  site.write('builds/virtual/odd.yaml', 'hardware: blade\n');
  const result = run('validate', '--root', site.root);
  assert.equal(result.status, 1);
  assert.match(result.stdout, /^builds\/virtual\/azure\.yaml:\d+: /m);
  assert.match(result.stdout, /^builds\/virtual\/gcp\.yaml:2: bootsize: expected a whole number of MiB$/m);
  assert.match(result.stdout, /^builds\/virtual\/openstack\.yaml:2: unknown key 'swpasize': did you mean 'swapsize'\?/m);
  assert.match(result.stdout, /^views\/includes\/bootline\/blade\.njk: template not found \(rendering virtual\/odd for CentOS-7\.6\.1810\)$/m);
});

test('explain shows lvm set by builds/virtual/docker.yaml with its line, and --json', () => {
  const result = run('explain', 'virtual/docker', '--os', 'CentOS-7.6.1810');
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^lvm\s+false\s+builds\/virtual\/docker\.yaml:3$/m);
  assert.match(result.stdout, /^packer_site\.root_pass\s+"<redacted>"\s+builds\/packer\/site\.json:10$/m);
  assert.doesNotMatch(result.stdout, /"password"/);
  const json = JSON.parse(run('explain', 'virtual/docker', '--os', 'CentOS-7.6.1810', '--json').stdout) as { variables: { key: string; source: string }[] };
  assert.equal(json.variables.find((row) => row.key === 'lvm')?.source, 'builds/virtual/docker.yaml:3');
});

test('npm start -- --http-port N serves kickstarts to curl, and the log never holds the root password', async () => {
  const site = copySite();
  sites.push(site);
  const secret = 'Zq7-unique-root-secret';
  site.write('builds/packer/site.json', JSON.stringify({ lang: 'en_US.UTF-8', keyboard: 'us', timezone: 'UTC', root_pass: secret, root_salt: 'salt' }));
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn('npm', ['start', '--', '--http-port', String(port), '--host', '127.0.0.1', '--tftp-port', '0', '--root', site.root, '--data-dir', `${site.root}/state`], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let log = '';
  server.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  server.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  try {
    await waitFor(() => log.includes('HTTP listening'), 15_000);
    const curl = promisify(execFile);
    const { stdout } = await curl('curl', ['-sS', '--fail', `http://127.0.0.1:${port}/ks?build=virtual/aws&os=CentOS-7.6.1810`]);
    assert.match(stdout, /^# Build 'aws' not found\.\.\. continuing with defaults\n\n/);
    assert.match(stdout, /^rootpw --iscrypted \$6\$rounds=5000\$salt\$/m);
    const php = await curl('curl', ['-sS', `http://127.0.0.1:${port}/ks.php?build=virtual/aws&os=CentOS-7.6.1810`]);
    assert.equal(php.stdout, stdout);
    const notFound = await curl('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/ks?build=metal/nosuch`]);
    assert.equal(notFound.stdout, '404');
    const traversal = await curl('curl', ['-sS', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/ks?build=../../etc`]);
    assert.equal(traversal.stdout, '400');
    // A broken site.json is reported with its line while the last good version keeps serving.
    site.write('builds/packer/site.json', '{ "lang": "en_US.UTF-8", "root_pass": \n');
    await waitFor(() => /builds\/packer\/site\.json:\d+/.test(log), 10_000);
    const still = await curl('curl', ['-sS', '--fail', `http://127.0.0.1:${port}/ks?build=virtual/aws&os=CentOS-7.6.1810`]);
    assert.equal(still.stdout, stdout);
    await waitFor(() => log.includes('"statusCode":200'), 5_000);
  } finally {
    // npm does not pass SIGTERM on to the server it started: signal the process group we created.
    if (server.exitCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      process.kill(-server.pid!, 'SIGTERM');
      await exited;
    }
  }
  assert.match(log, /"reqId"|"req":\{"id"/, 'requests are logged with an id');
  assert.ok(!log.includes(secret), 'the root password never appears in the log');
});

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('doctor: one line per check, exit 1 naming a missing boot loader or a port in use', async () => {
  const site = copySite();
  sites.push(site);
  const dataDir = `${site.root}/state`;
  const blocker = (await import('node:net')).createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const busyPort = (blocker.address() as { port: number }).port;
  try {
    const result = run('doctor', '--root', site.root, '--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', String(busyPort), '--tftp-port', '0');
    assert.equal(result.status, 1);
    assert.match(result.stdout, /^OK    definitions: 10 files valid, 5 kickstarts render, 1 hosts$/m);
    assert.match(result.stdout, /^FAIL  pxe\/undionly\.kpxe: .*undionly\.kpxe does not exist: run npm run pxe:install$/m);
    assert.match(result.stdout, /^WARN  pxe\/snp\.efi: /m, 'optional loaders only warn');
    assert.match(result.stdout, new RegExp(`^FAIL  HTTP port tcp/${busyPort}: EADDRINUSE: in use`, 'm'));
    assert.match(result.stdout, /^OK    data dir: /m);
    assert.doesNotMatch(result.stdout, /TFTP port/, '--tftp-port 0 disables TFTP');

    const probe = (await import('node:dgram')).createSocket('udp4');
    await new Promise<void>((resolve) => probe.bind(0, '127.0.0.1', resolve));
    const freeUdpPort = probe.address().port;
    await new Promise<void>((resolve) => probe.close(resolve));
    const withTftp = run('doctor', '--root', site.root, '--data-dir', dataDir, '--host', '127.0.0.1', '--http-port', String(busyPort), '--tftp-port', String(freeUdpPort));
    assert.match(withTftp.stdout, /^OK    TFTP addon: transfer sockets built and loadable$/m);
    assert.match(withTftp.stdout, new RegExp(`^OK    TFTP port udp/${freeUdpPort}`, 'm'));
  } finally {
    blocker.close();
  }
});

test('hosts and reinstall read and change the state database', () => {
  const site = copySite();
  sites.push(site);
  const dataDir = `${site.root}/state`;
  // Before serve ever ran with this --data-dir there is no state to read or change.
  for (const command of [['hosts'], ['reinstall', 'web01']]) {
    const missing = run(...command, '--root', site.root, '--data-dir', dataDir);
    assert.equal(missing.status, 1, command.join(' '));
    assert.match(missing.stderr, /^kickstand: no state database at .*\/state\/kickstand\.db: pass the --data-dir that `kickstand serve` uses/);
  }
  new StateStore(stateFile(dataDir)).close(); // what serve creates when it starts
  const hosts = run('hosts', '--root', site.root, '--data-dir', dataDir);
  assert.equal(hosts.status, 0, hosts.stderr);
  assert.match(hosts.stdout, /^HOST\s+MACS\s+OS\s+INSTALL\s+STATE\s+SINCE\s+LAST EVENT$/m);
  assert.match(hosts.stdout, /^metal\/web01\s+52:54:00:12:34:56\s+CentOS-7\.6\.1810\s+once\s+pending\s+-\s+-$/m);
  const reinstall = run('reinstall', 'web01', '--root', site.root, '--data-dir', dataDir);
  assert.equal(reinstall.status, 0, reinstall.stderr);
  const json = JSON.parse(run('hosts', '--json', '--root', site.root, '--data-dir', dataDir).stdout) as { id: string; state: string; last_event: string }[];
  assert.deepEqual(json.map(({ id, state, last_event }) => ({ id, state, last_event })), [{ id: 'metal/web01', state: 'pending', last_event: 'reinstall' }]);
  const unknown = run('reinstall', 'nosuch', '--root', site.root, '--data-dir', dataDir);
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /^kickstand: unknown host 'nosuch'/);
});

test('serve refuses a DHCP pool it could not serve, naming the flag, before binding anything', () => {
  const serve = (...flags: string[]) => run('serve', '--dhcp', 'full', '--server-ip', '127.0.0.1', '--http-port', '0', '--tftp-port', '0', ...flags);
  const cases: Array<[string[], RegExp]> = [
    [['--dhcp-pool', '10.0.0.200-10.0.0.100', '--dhcp-netmask', '255.255.255.0'], /--dhcp-pool: pool end 10\.0\.0\.100 is before its start 10\.0\.0\.200/],
    // A typo that spans 13 million addresses would make every DISCOVER scan them.
    [['--dhcp-pool', '10.0.0.100-10.200.0.254', '--dhcp-netmask', '255.255.255.0'], /--dhcp-pool: 10\.0\.0\.100 and 10\.200\.0\.254 are not in one 255\.255\.255\.0 subnet/],
    [['--dhcp-pool', '10.0.0.100-10.0.0.200', '--dhcp-netmask', '255.255.0.255'], /--dhcp-netmask: 255\.255\.0\.255 is not a valid subnet mask/],
    [['--dhcp-pool', '10.0.0.100-10.0.0.200', '--dhcp-netmask', '255.255.255.0', '--dhcp-router', '10.1.0.1'], /--dhcp-router: router 10\.1\.0\.1 is outside the pool's subnet/],
    [['--dhcp-pool', '10.0.0.100-10.0.0.200', '--dhcp-netmask', '255.255.255.0', '--dhcp-lease-time', '9999999999'], /--dhcp-lease-time: .*31536000/],
  ];
  for (const [flags, message] of cases) {
    const result = serve(...flags);
    assert.equal(result.status, 2, `${flags.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, message);
  }
});

test('the built CLI runs as a program, as `npx kickstand` runs it', () => {
  const direct = spawnSync(cli, ['--help'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(direct.error, undefined, String(direct.error));
  assert.equal(direct.status, 0, direct.stderr);
  assert.match(direct.stdout, /^Usage: kickstand/m);
});

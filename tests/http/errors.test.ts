import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import request from 'supertest';
import type { Express } from 'express';
import { copySite, siteApp } from '../helpers/site.js';

const site = copySite();
let app: Express;
before(async () => {
  site.write('builds/metal/noaddr.yaml', 'fqdn: noaddr.example.com\ndevice: eth0\n');
  site.write('http/ks/custom.txt', 'static kickstart\n');
  fs.symlinkSync(path.join(site.root, 'builds'), path.join(site.root, 'http', 'defs'));
  fs.symlinkSync('/etc/passwd', path.join(site.root, 'http', 'passwd'));
  ({ app } = await siteApp(site.root));
});
after(() => site.remove());

const badRequests: [string, RegExp][] = [
  ['/ks', /^missing build: expected build=<type>\/<build>/],
  ['/ks?os=CentOS-7.6.1810', /^missing build/],
  ['/ks?build=../../etc&os=CentOS-7.6.1810', /^malformed build '\.\.\/\.\.\/etc'/],
  ['/ks?build=virtual/..&os=CentOS-7.6.1810', /^malformed build/],
  ['/ks?build=/virtual/aws', /^malformed build/],
  ['/ks?build=virtual/aws/', /^malformed build/],
  ['/ks?build=virtual', /^malformed build 'virtual'/],
  ['/ks?build=virtual/a%20b', /^malformed build 'virtual\/a b'/],
  ['/ks?build=virtual/.hidden', /^malformed build/],
  ['/ks?build=virtual%2F..%2F..%2Fetc', /^malformed build/],
  ['/ks?build=virtual/aws&build=virtual/gcp', /^malformed build 'virtual\/aws,virtual\/gcp'/],
  ['/ks?build=virtual/aws&os=CentOS', /^malformed os 'CentOS': expected <Name>-<version>/],
  ['/ks?build=virtual/aws&os=../../../etc/passwd', /^malformed os/],
  ['/ks?build=virtual/aws&os=', /^malformed os ''/],
  ['/ks.php?build=..%2F..%2Fetc%2Fpasswd', /^malformed build/],
];
for (const [url, message] of badRequests) {
  test(`400 for ${url}`, async () => {
    const res = await request(app).get(url).expect(400);
    assert.match(res.text, message);
    assert.equal(res.text.trim().split('\n').length, 1, 'one line');
  });
}

test('400 for a Host header that would inject text into the bootline', async () => {
  const res = await request(app).get('/ks?build=metal/web01&os=CentOS-7.6.1810').set('Host', 'a b').expect(400);
  assert.match(res.text, /malformed Host/);
});

test('404 for an unknown build of a strict type (metal), never a generic kickstart', async () => {
  const res = await request(app).get('/ks?build=metal/nosuch&os=CentOS-7.6.1810').expect(404);
  assert.equal(res.text, "unknown build 'metal/nosuch': no builds/metal/nosuch.yaml, and metal builds are strict\n");
});

test('422 naming the template line when a metal host lacks a value its network line needs', async () => {
  const res = await request(app).get('/ks?build=metal/noaddr&os=CentOS-7.6.1810').expect(422);
  assert.equal(res.text, "cannot render metal/noaddr: views/includes/network/metal.njk:1: ipaddr is empty; set it in the build's definition\n");
});

test('422 for a hardware type that has no templates', async () => {
  site.write('builds/virtual/odd.yaml', 'hardware: blade\n');
  const { app: fresh } = await siteApp(site.root);
  const res = await request(fresh).get('/ks?build=virtual/odd&os=CentOS-7.6.1810').expect(422);
  assert.match(res.text, /^cannot render virtual\/odd: views\/includes\/bootline\/blade\.njk: template not found$/m);
});

test('static files from http/ are served', async () => {
  const res = await request(app).get('/ks/custom.txt').expect(200);
  assert.equal(res.text, 'static kickstart\n');
});

const neverServed = [
  '/builds/packer/site.json',
  '/builds/defaults.yaml',
  '/views/ks.njk',
  '/pxe/',
  '/src/cli.ts',
  '/package.json',
  '/../builds/packer/site.json',
  '/%2e%2e/builds/packer/site.json',
  '/..%2fbuilds%2fpacker%2fsite.json',
  '/defs/packer/site.json',
  '/passwd',
  '/.git/config',
];
for (const url of neverServed) {
  test(`404 and no secret for ${url}`, async () => {
    const res = await request(app).get(url);
    assert.ok(res.status === 404 || res.status === 400, `status ${res.status}`);
    assert.doesNotMatch(res.text, /root_pass|root:x:0/);
  });
}

test('malformed percent-encoding is a 400, not a 500', async () => {
  const res = await request(app).get('/ks?build=%E0%A4%A');
  assert.ok(res.status === 400, `status ${res.status}`);
  const stat = await request(app).get('/%E0%A4%A');
  assert.ok(stat.status === 400 || stat.status === 404, `status ${stat.status}`);
});

test('/healthz answers', async () => {
  await request(app).get('/healthz').expect(200, 'ok\n');
});

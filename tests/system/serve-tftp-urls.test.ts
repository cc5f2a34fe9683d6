// `kickstand serve` without --server-ip or --server-url: the pxelinux and GRUB configs it
// generates over TFTP name the address the machine reached it at, not the server's host name
// (which the installer usually cannot resolve). Loopback only: 127.0.0.2 plays a second address.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { test } from 'node:test';
import { serveConfigSchema } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import { startServer } from '../../src/server.js';
import { copySite } from '../helpers/site.js';
import { hasCommand, run } from '../tftp/helpers.js';

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

test('TFTP configs name the address the machine asked when no server address is configured', { skip: hasCommand('curl') ? false : 'needs curl' }, async () => {
  const site = copySite();
  const tftpPort = await freeUdpPort();
  const server = await startServer(serveConfigSchema.parse({ root: site.root, dataDir: `${site.root}/state`, httpPort: 0, tftpPort }), silentLogger);
  try {
    const httpPort = new URL(server.httpUrl).port;
    for (const address of ['127.0.0.1', '127.0.0.2']) {
      const config = await run('curl', ['-sS', '--max-time', '10', `tftp://${address}:${tftpPort}/pxelinux.cfg/01-52-54-00-12-34-56`]);
      assert.equal(config.code, 0, config.stderr);
      assert.match(config.stdout, new RegExp(`inst\\.ks=http://${address.replaceAll('.', '\\.')}:${httpPort}/ks\\?build=metal/web01`), config.stdout);
    }
  } finally {
    await server.close();
    site.remove();
  }
});

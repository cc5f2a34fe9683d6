// Public surface of the TFTP transport; everything else in src/tftp/ is internal.
export { startTftpServer, type FileServedEvent, type TftpServer, type TftpServerOptions } from './server.js';
export type { GeneratedFile } from './file-source.js';

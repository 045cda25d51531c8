'use strict';
// Preload (node --require ./loopback.cjs): every TCP listen() in this process binds a
// loopback address, whatever the package asks for, so no peer listens on all
// interfaces. Covers net.Server and everything built on it (http, https, express, koa).
// MW_LISTEN_HOST selects the address: 127.0.0.1 (default) or ::1 (any 127.0.0.0/8
// address is accepted too). Unix sockets, pipes, fds and handles are left untouched.
// MW_LISTEN_DEBUG=1 logs each rewrite to stderr.
const net = require('node:net');

const host = process.env.MW_LISTEN_HOST || '127.0.0.1';
if (!(host === '::1' || (net.isIPv4(host) && host.startsWith('127.')))) {
  process.stderr.write(`loopback.cjs: MW_LISTEN_HOST=${host} is not a loopback address (use 127.0.0.1 or ::1)\n`);
  process.exit(2);
}
const debug = process.env.MW_LISTEN_DEBUG === '1';

const isPort = (v) =>
  v === undefined || v === null || typeof v === 'number' ||
  (typeof v === 'string' && /^\d+$/.test(v));

const origListen = net.Server.prototype.listen;

net.Server.prototype.listen = function listen(...args) {
  let cb;
  if (args.length && typeof args[args.length - 1] === 'function') cb = args.pop();
  const first = args[0];
  let opts;
  if (first !== null && typeof first === 'object') {
    // listen(options) or listen(handle)
    if (first.path !== undefined || first.fd !== undefined || first.handle !== undefined ||
        first._handle !== undefined || !('port' in first || 'host' in first || Object.keys(first).length === 0)) {
      return origListen.apply(this, cb ? [...args, cb] : args);
    }
    opts = { ...first, host };
    delete opts.ipv6Only;
  } else if (isPort(first)) {
    // listen([port[, host[, backlog]]][, cb]) ; host may be omitted: listen(port, backlog)
    opts = { port: first === undefined || first === null ? 0 : Number(first), host };
    const rest = args.slice(1);
    if (typeof rest[0] === 'number') opts.backlog = rest[0];
    else if (typeof rest[1] === 'number') opts.backlog = rest[1];
  } else {
    // listen(path) — a Unix socket or pipe
    return origListen.apply(this, cb ? [...args, cb] : args);
  }
  if (debug) {
    process.stderr.write(`loopback.cjs: pid ${process.pid} listen(${JSON.stringify(args)}) -> ${host}:${opts.port}\n`);
  }
  return cb ? origListen.call(this, opts, cb) : origListen.call(this, opts);
};

// tcpsum.mjs: a checksummed TCP transfer, to prove relayed bytes arrive intact.
//   node tcpsum.mjs serve HOST PORT      reads each connection to EOF, answers "<bytes> <sha256>\n"
//                                        (and prints "conn <bytes>" for each)
//   node tcpsum.mjs send HOST PORT BYTES sends BYTES random bytes, half-closes, prints one JSON
//                                        line: {ok, bytes, sent, back, match, peer}
//   node tcpsum.mjs serve-slow HOST PORT SECS  the same, but reads nothing for SECS seconds
//   node tcpsum.mjs hold HOST PORT SECS  connects, sends nothing, and reports after at most SECS
//                                        seconds how the connection ended: {ended, after_ms, error,
//                                        local_port}
// MW_SRC_PORT=N makes send bind that source port.
// "peer" is what getpeername() says on the client's socket.
import net from 'node:net';
import crypto from 'node:crypto';

const [mode, host, port, bytes] = process.argv.slice(2);
if (mode === 'serve' || mode === 'serve-slow') {
	const srv = net.createServer((s) => {
		const h = crypto.createHash('sha256');
		let n = 0;
		if (mode === 'serve-slow') {
			s.pause();
			setTimeout(() => s.resume(), Number(bytes) * 1000);
		}
		s.on('data', (d) => { h.update(d); n += d.length; });
		s.on('end', () => {
			console.log(`conn ${n}`);
			s.end(`${n} ${h.digest('hex')}\n`);
		});
		s.on('error', () => {});
	});
	srv.listen(Number(port), host, () => console.log('ready'));
} else if (mode === 'send') {
	const total = Number(bytes);
	const h = crypto.createHash('sha256');
	const timer = setTimeout(() => { console.log(JSON.stringify({ ok: false, error: 'timeout' })); process.exit(1); }, 60000);
	const opts = { host, port: Number(port) };
	if (process.env.MW_SRC_PORT) opts.localPort = Number(process.env.MW_SRC_PORT);
	const s = net.connect(opts, () => {
		const peer = `${s.remoteAddress}:${s.remotePort}`;
		let left = total;
		const pump = () => {
			while (left > 0) {
				const chunk = crypto.randomBytes(Math.min(left, 1 << 20));
				h.update(chunk);
				left -= chunk.length;
				if (!s.write(chunk)) return s.once('drain', pump);
			}
			s.end();
		};
		pump();
		let reply = '';
		s.on('data', (d) => { reply += d; });
		s.on('end', () => {
			clearTimeout(timer);
			const [n, sum] = reply.trim().split(' ');
			const sent = h.digest('hex');
			const ok = Number(n) === total && sum === sent;
			console.log(JSON.stringify({ ok, bytes: Number(n), sent, back: sum, match: sum === sent, peer, pid: process.pid }));
			process.exit(ok ? 0 : 1);
		});
	});
	s.on('error', (e) => { clearTimeout(timer); console.log(JSON.stringify({ ok: false, error: e.code || e.message })); process.exit(1); });
} else if (mode === 'hold') {
	const t0 = Date.now();
	let local_port = null;
	const done = (ended, error) => {
		console.log(JSON.stringify({ ended, after_ms: Date.now() - t0, error: error || null, local_port }));
		process.exit(0);
	};
	const s = net.connect({ host, port: Number(port) }, () => { local_port = s.localPort; });
	s.on('end', () => done('eof'));
	s.on('error', (e) => done('error', e.code || e.message));
	s.on('data', () => {});
	setTimeout(() => done('open'), Number(bytes) * 1000);
} else {
	console.error('usage: tcpsum.mjs serve HOST PORT | send HOST PORT BYTES');
	process.exit(2);
}

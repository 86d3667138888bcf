// The Socket.IO peer for the hub benchmarks: a Socket.IO 4 server (WebSocket transport only,
// no compression) with one HTTP endpoint, POST /publish {data, count}, that broadcasts `data`
// as an "event" to every connected client `count` times — the same fan-out scenario the hub
// runs. One Node process, as Socket.IO is usually deployed per core.
//
//   PORT=3001 node server.mjs

import http from 'node:http';
import { Server } from 'socket.io';

const port = Number(process.env.PORT ?? 3001);

const server = http.createServer((req, res) => {
  if (req.method === 'POST' && req.url === '/publish') {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const { data, count = 1 } = JSON.parse(body);
      for (let i = 0; i < count; i++) io.emit('event', data);
      res.writeHead(202, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ published: count }));
    });
    return;
  }
  if (req.url === '/healthz') {
    res.end('ok');
    return;
  }
  res.writeHead(404);
  res.end();
});

const io = new Server(server, { transports: ['websocket'], serveClient: false, perMessageDeflate: false });
server.listen(port, '127.0.0.1', 4096, () => console.error(`socket.io peer on 127.0.0.1:${port} (pid ${process.pid})`));

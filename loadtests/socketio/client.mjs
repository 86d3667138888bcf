// A Node driver for the Socket.IO peer (a cross-check of the Rust driver, which measures both
// servers the same way): N socket.io-client connections counting "event"s per second.
//
//   node client.mjs http://127.0.0.1:3001 1000 10   (url, clients, seconds)

import { io } from 'socket.io-client';

const [url = 'http://127.0.0.1:3001', n = '1000', secs = '10'] = process.argv.slice(2);
let received = 0;
const sockets = [];
for (let i = 0; i < Number(n); i++) {
  const s = io(url, { transports: ['websocket'], forceNew: true });
  s.on('event', () => received++);
  sockets.push(s);
}
let last = 0;
const timer = setInterval(() => {
  console.log(JSON.stringify({ clients: Number(n), deliveries_per_s: received - last }));
  last = received;
}, 1000);
setTimeout(() => {
  clearInterval(timer);
  sockets.forEach((s) => s.close());
}, Number(secs) * 1000);

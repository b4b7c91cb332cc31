/**
 * A loopback TCP proxy that also reads what passes: one per client in the randomized test. It
 * forwards bytes both ways (so the client under test is untouched), can cut its connections (a
 * network blip) and be pointed at a restarted server, and decodes the WebSocket frames it forwards
 * into socket.io packets, so a test can check every record that reached a client — not only what the
 * client chose to show.
 *
 * Only the WebSocket transport is decoded (clients are made with `transports: ['websocket']`);
 * socket.io servers do not compress frames by default, and a compressed frame is counted in
 * `undecoded`.
 */
import { createServer, connect, type Server, type Socket, type AddressInfo } from 'node:net';

/** One socket.io packet seen on the wire. */
export interface Packet {
  /** The proxied connection it travelled on (1, 2, ... per tap). */
  conn: number;
  /** `up`: client to server; `down`: server to client. */
  dir: 'up' | 'down';
  /** socket.io packet type: 2 event, 3 ack (0 connect, 1 disconnect, 4 connect error). */
  type: number;
  ackId: number | undefined;
  /** The decoded JSON array (event name and arguments, or the ack's arguments). */
  data: any;
  /** When the tap forwarded it (ms, `performance.now()`). */
  at: number;
  /** Global order of all taps' packets. */
  seq: number;
}

let globalSeq = 0;

/** Reassembles WebSocket frames from one direction of one TCP connection. */
class FrameReader {
  private buf: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private fragments: Buffer[] = [];

  constructor(
    private readonly onText: (text: string) => void,
    private readonly onUndecoded: () => void,
  ) {}

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (!this.headerDone) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      this.headerDone = true;
      this.buf = this.buf.subarray(end + 4);
    }
    for (;;) {
      const frame = this.nextFrame();
      if (!frame) return;
    }
  }

  /** Decodes one complete frame from the buffer, if there is one. */
  private nextFrame(): boolean {
    const b = this.buf;
    if (b.length < 2) return false;
    const fin = (b[0]! & 0x80) !== 0;
    const rsv1 = (b[0]! & 0x40) !== 0;
    const opcode = b[0]! & 0x0f;
    const masked = (b[1]! & 0x80) !== 0;
    let len = b[1]! & 0x7f;
    let at = 2;
    if (len === 126) {
      if (b.length < 4) return false;
      len = b.readUInt16BE(2);
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return false;
      len = Number(b.readBigUInt64BE(2));
      at = 10;
    }
    let mask: Buffer | undefined;
    if (masked) {
      if (b.length < at + 4) return false;
      mask = b.subarray(at, at + 4);
      at += 4;
    }
    if (b.length < at + len) return false;
    const payload = Buffer.from(b.subarray(at, at + len));
    if (mask) for (let i = 0; i < payload.length; i++) payload[i]! ^= mask[i & 3]!;
    this.buf = b.subarray(at + len);
    if (rsv1) {
      this.onUndecoded();
      return true;
    }
    if (opcode === 1 || opcode === 0) {
      this.fragments.push(payload);
      if (fin) {
        const text = Buffer.concat(this.fragments).toString('utf8');
        this.fragments = [];
        this.onText(text);
      }
    }
    return true;
  }
}

/** Parses an Engine.IO message carrying a socket.io packet (`4` + type + [nsp,] [ack id] + JSON). */
export function parseSocketIo(
  text: string,
): { type: number; ackId: number | undefined; data: any } | undefined {
  if (text[0] !== '4') return undefined; // engine.io ping/pong/open/close
  let i = 1;
  const type = Number(text[i++]);
  if (text[i] === '/') {
    const comma = text.indexOf(',', i);
    i = comma < 0 ? text.length : comma + 1;
  }
  let digits = '';
  while (i < text.length && text[i]! >= '0' && text[i]! <= '9') digits += text[i++];
  const rest = text.slice(i);
  let data: any;
  try {
    data = rest.length > 0 ? JSON.parse(rest) : undefined;
  } catch {
    return undefined;
  }
  return { type, ackId: digits ? Number(digits) : undefined, data };
}

/** The proxy; `packets` grows for the whole run (the test analyses it at the end). */
export class TapProxy {
  readonly packets: Packet[] = [];
  undecoded = 0;
  port = 0;
  private readonly server: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  private nextConn = 0;

  constructor(private targetPort: number) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Listens on port 0. */
  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** New connections go to this server port from now on (a restarted server). */
  retarget(port: number): void {
    this.targetPort = port;
  }

  /** Destroys every open connection, both sides (a network blip: the client reconnects by itself). */
  cut(): void {
    for (const [a, b] of this.pairs) {
      a.destroy();
      b.destroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const conn = ++this.nextConn;
    const upstream = connect(this.targetPort, '127.0.0.1');
    const pair: [Socket, Socket] = [client, upstream];
    this.pairs.add(pair);
    const record = (dir: 'up' | 'down') => (text: string) => {
      const packet = parseSocketIo(text);
      if (packet) this.packets.push({ conn, dir, ...packet, at: performance.now(), seq: ++globalSeq });
    };
    const up = new FrameReader(record('up'), () => this.undecoded++);
    const down = new FrameReader(record('down'), () => this.undecoded++);
    client.on('data', (d) => {
      up.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d) => {
      down.push(d);
      client.write(d);
    });
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.pairs.delete(pair);
    };
    for (const s of pair) {
      s.on('close', end);
      s.on('error', end);
    }
  }
}

// streamproxy: stands in front of tix and plays the seat stream (GET /events/{id}/stream) that
// the server does not have yet, so that the page's stream client is tested now: everything
// else is passed to tix as it is. mode "stream": the stream answers as the protocol
// says (the test pushes messages) and seat maps gain a "position"; "full": 503
// too_many_streams; "absent": passed to tix (404).
import { createServer, request } from "node:http";

export class StreamProxy {
  constructor(target) {
    this.target = target; // a TixServer
    this.mode = "stream";
    this.position = 5; // the feed position seat maps carry
    this.clients = []; // open stream responses
    this.streamRequests = []; // URLs (and Last-Event-ID) of the stream requests seen
  }

  async start() {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise((ok) => this.server.listen(0, "127.0.0.1", ok));
    this.url = `http://127.0.0.1:${this.server.address().port}`;
    return this;
  }

  handle(req, res) {
    if (/^\/events\/[^/]+\/stream/.test(req.url) && this.mode !== "absent") {
      this.streamRequests.push({ url: req.url, lastEventId: req.headers["last-event-id"] || null });
      if (this.mode === "full") {
        res.writeHead(503, { "Content-Type": "application/json" });
        return res.end('{"error":{"code":"too_many_streams","message":"too many streams"}}');
      }
      res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-cache" });
      res.write("retry: 200\n: ping\n\n");
      this.clients.push(res);
      req.on("close", () => (this.clients = this.clients.filter((c) => c !== res)));
      return;
    }
    const seatMap = /^\/events\/[^/]+\/seats$/.test(req.url) && this.mode === "stream";
    const upstream = request({ host: "127.0.0.1", port: this.target.port, path: req.url, method: req.method,
      headers: seatMap ? { ...req.headers, "if-none-match": "" } : req.headers }, (up) => {
      if (!seatMap || up.statusCode !== 200) {
        res.writeHead(up.statusCode, up.headers);
        return up.pipe(res);
      }
      const chunks = [];
      up.on("data", (c) => chunks.push(c));
      up.on("end", () => {
        const map = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        const body = JSON.stringify({ ...map, position: this.position });
        res.writeHead(200, { "Content-Type": "application/json", ETag: `"p${this.position}-${Date.now()}"` });
        res.end(body);
      });
    });
    upstream.on("error", () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  }

  // Sends an SSE message to every open stream.
  push(event, data, id) {
    const text = (id === undefined ? "" : `id: ${id}\n`) + `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
    for (const c of this.clients) c.write(text);
  }

  // Ends every open stream (the browser reconnects by itself).
  dropStreams() {
    for (const c of this.clients) c.end();
    this.clients = [];
  }

  async close() {
    this.dropStreams();
    this.server.closeAllConnections?.();
    await new Promise((ok) => this.server.close(ok));
  }
}

// Draining an HTTP server: stop accepting, let every request in flight
// finish, close each keep-alive connection once it is idle, and cut what is
// left when the grace period ends.
//
// Built on Node's own closeIdleConnections/closeAllConnections rather than
// stoppable (under @godaddy/terminus): stoppable ends ("half-closes") every
// connection without a request in flight, including one whose next request
// is half received; that request is then read and run, money is booked, and
// its client gets a socket error instead of the answer (the shutdown test
// caught it). Node destroys only connections whose parser holds no
// request, so a request is either never read or read, run and answered.
import type { Server, ServerResponse } from "node:http";
import net from "node:net";

export interface Drainable {
  /** Requests being answered now. */
  inFlight(): number;
  /**
   * Stops accepting, waits for the requests in flight (each answered with
   * `Connection: close`) for at most `graceMs`, then cuts what is left.
   * Resolves when the server is closed, with how many answers were cut.
   */
  drain(graceMs: number): Promise<{ cut: number }>;
}

/** Idle keep-alive connections are closed this often during a drain (one whose answer went out before it began). */
const SWEEP_MS = 50;

export function drainable(server: Server): Drainable {
  const inFlight = new Set<ServerResponse>();
  let draining = false;
  server.on("request", (_req, res) => {
    inFlight.add(res);
    res.once("close", () => inFlight.delete(res));
    // The client learns not to send another request on this connection; Node closes it after the answer.
    if (draining) res.setHeader("connection", "close");
  });

  return {
    inFlight: () => inFlight.size,
    async drain(graceMs) {
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader("connection", "close");
      // Stops listening; resolves once every connection is gone. (Not http.Server#close: it would also
      // destroy the idle connections at once, among them some whose request has arrived but is not read
      // yet, the event loop being busy.)
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      // Each sweep waits for the next poll phase (setImmediate runs right after it), so that whatever
      // the clients have sent by then is read: a connection is destroyed only if it still holds no request.
      const sweepIdle = () => setImmediate(() => server.closeIdleConnections());
      sweepIdle();
      const sweep = setInterval(sweepIdle, SWEEP_MS);
      let timer: NodeJS.Timeout | undefined;
      const graceOver = new Promise<"grace over">((resolve) => {
        timer = setTimeout(() => resolve("grace over"), graceMs);
      });
      const ended = await Promise.race([closed.then(() => "closed" as const), graceOver]);
      clearInterval(sweep);
      clearTimeout(timer);
      if (ended === "closed") return { cut: 0 };
      const cut = [...inFlight].filter((res) => !res.writableFinished).length;
      server.closeAllConnections();
      // Upgraded (WebSocket) sockets are not Node's to close; they were closed before the drain began.
      await Promise.race([closed, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      return { cut };
    },
  };
}

/**
 * The simulator's listening socket: `node:http`, or `node:https` with the KMS's RPC certificate and key.
 * After Finish an HTTPS simulator closes its HTTP server and listens again, on the same port, over TLS.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

import { InputError } from "../../core/errors.js";

export type Protocol = "http" | "https";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export class SimulatorServer {
  proto: Protocol = "http";
  private server: Server | undefined;
  private switching: Promise<void> | null = null;

  constructor(
    readonly host: string,
    /** The requested port (0: any free one), then the one listened on. */
    public port: number,
    private readonly handler: Handler,
    /** The TLS certificate and key (PEM) of an HTTPS server. */
    private readonly tls: () => { cert: string; key: string },
  ) {}

  get url(): string {
    const urlHost = this.host.includes(":") ? `[${this.host}]` : this.host;
    return `${this.proto}://${urlHost}:${this.port}`;
  }

  async start(proto: Protocol): Promise<void> {
    this.proto = proto;
    this.server = proto === "https" ? createHttpsServer(this.tls(), this.handler) : createHttpServer(this.handler);
    await this.listen(this.server);
  }

  /** Start switching to HTTPS (awaited by `close`). */
  switchToHttps(): void {
    this.switching = this.restartAsHttps();
  }

  async close(): Promise<void> {
    if (this.switching) await this.switching.catch(() => undefined);
    if (this.server) await closeServer(this.server);
  }

  private async restartAsHttps(): Promise<void> {
    if (this.server) await closeServer(this.server);
    await this.start("https");
  }

  private async listen(s: Server): Promise<void> {
    const { host, port } = this;
    await new Promise<void>((ok, fail) => {
      const onError = (e: NodeJS.ErrnoException) => {
        const code = e.code ?? "";
        const why = code === "EADDRINUSE" ? "the port is already in use" : code === "EACCES" ? "permission denied (ports below 1024 need privileges)" : code === "EADDRNOTAVAIL" ? "no such local address" : e.message;
        fail(new InputError(code === "EADDRINUSE" ? "PORT_IN_USE" : "LISTEN_FAILED", `cannot listen on ${host}:${port}: ${why}${code ? ` (${code})` : ""}`, { cause: e }));
      };
      s.once("error", onError);
      s.listen(port, host, () => {
        s.off("error", onError);
        ok();
      });
    });
    this.port = (s.address() as AddressInfo).port;
  }
}

async function closeServer(s: Server): Promise<void> {
  await new Promise<void>((ok) => {
    s.close(() => ok());
    s.closeAllConnections();
  });
}

/** The operator's HTTP endpoints: /metrics (Prometheus) and /healthz, /readyz (probes). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

/** ":8080" -> all interfaces; "127.0.0.1:0" -> loopback, any port; "0" -> disabled (controller-runtime convention). */
export function parseBindAddress(addr: string): { host?: string; port: number } | undefined {
  if (addr === '0' || addr === '') return undefined;
  const i = addr.lastIndexOf(':');
  if (i < 0) throw new Error(`bind address ${addr}: want [host]:port`);
  const host = addr.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(addr.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`bind address ${addr}: bad port`);
  return { host: host || undefined, port };
}

export type Check = () => { ok: boolean; detail?: string };

export interface Endpoints {
  registry?: Registry;
  healthz?: Check;
  readyz?: Check;
}

export class HttpEndpoints {
  private server?: Server;

  constructor(private readonly endpoints: Endpoints) {}

  async listen(bind: string): Promise<number | undefined> {
    const at = parseBindAddress(bind);
    if (!at) return undefined;
    const server = createServer((req, res) => {
      void this.handle(req.url ?? '/', req.method ?? 'GET').then(
        ({ status, type, body }) => {
          res.writeHead(status, { 'Content-Type': type });
          res.end(body);
        },
        (e: Error) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(e.message);
        },
      );
    });
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(at.port, at.host, () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  private async handle(url: string, method: string): Promise<{ status: number; type: string; body: string }> {
    const path = url.split('?')[0];
    if (method !== 'GET' && method !== 'HEAD') return { status: 405, type: 'text/plain', body: 'method not allowed\n' };
    if (path === '/metrics' && this.endpoints.registry) {
      return { status: 200, type: this.endpoints.registry.contentType, body: await this.endpoints.registry.metrics() };
    }
    const check = path === '/healthz' || path === '/livez' ? this.endpoints.healthz : path.startsWith('/readyz') ? this.endpoints.readyz : undefined;
    if (check) {
      const r = check();
      return { status: r.ok ? 200 : 503, type: 'text/plain', body: `${r.ok ? 'ok' : 'not ready'}${r.detail ? `: ${r.detail}` : ''}\n` };
    }
    return { status: 404, type: 'text/plain', body: 'not found\n' };
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}

/**
 * A throttling front for a REAL kube-apiserver, to replay the "429 Too Many Requests" situations
 * of client-go / controller-runtime reports: plain HTTP on loopback, every request forwarded to the
 * API server (TLS, the kubeconfig's token passed through) except those a rule answers itself with
 * 429 and a Retry-After header, as API Priority and Fairness does under load. Each request's
 * arrival time is recorded so a test can measure when the client re-sent it.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';

export interface ThrottleRule {
  method: string;
  path: RegExp;
  /** How many matching requests to answer 429 (then they pass through). */
  times: number;
  /** Retry-After header value in seconds. */
  retryAfterSeconds: number;
}

export interface Arrival {
  method: string;
  path: string;
  at: number;
  throttled: boolean;
}

export class ThrottleProxy {
  readonly arrivals: Arrival[] = [];
  private readonly rules: (ThrottleRule & { left: number })[] = [];
  private server?: Server;
  port = 0;

  constructor(private readonly upstream: URL) {}

  /** Adds a rule; matching requests are throttled `times` times from now on. */
  throttle(rule: ThrottleRule): void {
    this.rules.push({ ...rule, left: rule.times });
  }

  /** Arrivals of requests matching method and path. */
  seen(method: string, path: RegExp): Arrival[] {
    return this.arrivals.filter((a) => a.method === method && path.test(a.path));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', () => r()));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  /** The kubeconfig at `path`, pointed at this proxy (same user and token). */
  kubeConfig(path: string): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    const clusters = kc.clusters.map((c) => ({ ...c, server: `http://127.0.0.1:${this.port}`, caFile: undefined, skipTLSVerify: true }));
    const out = new KubeConfig();
    out.loadFromOptions({ clusters, users: kc.users, contexts: kc.contexts, currentContext: kc.currentContext });
    return out;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const rule = this.rules.find((r) => r.left > 0 && r.method === method && r.path.test(path.split('?')[0]));
    this.arrivals.push({ method, path, at: Date.now(), throttled: !!rule });
    if (rule) {
      rule.left--;
      req.resume();
      res.writeHead(429, { 'Content-Type': 'application/json', 'Retry-After': String(rule.retryAfterSeconds) });
      res.end(
        JSON.stringify({
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Failure',
          message: 'Too many requests, please try again later.',
          reason: 'TooManyRequests',
          details: { retryAfterSeconds: rule.retryAfterSeconds },
          code: 429,
        }),
      );
      return;
    }
    const up = httpsRequest(
      {
        hostname: this.upstream.hostname,
        port: this.upstream.port,
        method,
        path,
        headers: { ...req.headers, host: this.upstream.host },
        rejectUnauthorized: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  }
}

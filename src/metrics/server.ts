// The metrics port: Prometheus metrics at /metrics, the status page at /, and the JSON the page polls.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ReplicaStatus } from '../status.js';
import type { EngineMetrics } from './metrics.js';
import { STATUS_PAGE_CSS, STATUS_PAGE_HTML, STATUS_PAGE_JS } from './status-page.js';

/** The engine option `metrics` (and the CLI configuration's): where the metrics port listens. */
export interface MetricsOptions {
  /** Default 127.0.0.1: the page shows sources' addresses and errors, so it is not published unless asked. */
  host?: string;
  /** 0 picks a free port (see metricsAddress()). */
  port: number;
}

/** The lag chart covers this long at most (what has been sampled, at least a minute), sampled this often. */
const LAG_WINDOW_SECONDS = 600;
const LAG_MIN_WINDOW_SECONDS = 60;
const LAG_SAMPLE_MS = 2000;

// The status fields the page shows; the others (TLS paths, filters ...) stay off a page without login.
const PAGE_FIELDS = [
  'channel', 'ioRunning', 'sqlRunning', 'ioState', 'sqlState', 'sourceHost', 'sourcePort', 'sourceServerId',
  'sourceLogFile', 'readSourceLogPos', 'relaySourceLogFile', 'execSourceLogPos', 'relayLogFile', 'relayLogPos',
  'secondsBehindSource', 'lastIoErrno', 'lastIoError', 'lastIoErrorTimestamp', 'lastSqlErrno', 'lastSqlError',
  'lastSqlErrorTimestamp',
] as const satisfies readonly (keyof ReplicaStatus)[];

const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Cache-Control': 'no-store',
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
    "img-src 'self'; frame-ancestors 'none'",
};

export class MetricsServer {
  /** Per channel name: [seconds since the epoch, lag or null while unknown], oldest first. */
  private readonly lag = new Map<string, [number, number | null][]>();
  private readonly sampler: NodeJS.Timeout;

  private constructor(
    private readonly server: Server,
    private readonly metrics: EngineMetrics,
    private readonly statuses: () => ReplicaStatus[],
  ) {
    this.sample();
    this.sampler = setInterval(() => this.sample(), LAG_SAMPLE_MS);
    this.sampler.unref();
  }

  static async open(options: MetricsOptions, metrics: EngineMetrics, statuses: () => ReplicaStatus[],
    logger: Logger): Promise<MetricsServer> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const opened = new MetricsServer(server, metrics, statuses);
    server.on('request', (req, res) => {
      opened.handle(req, res).catch((err: unknown) => {
        logger.error({ err }, 'metrics port: cannot answer a request');
        if (!res.headersSent) res.writeHead(500, HEADERS);
        res.end();
      });
    });
    const { address, port } = opened.address();
    logger.info({ address, port }, `metrics and status page at http://${address.includes(':') ? `[${address}]` : address}:${port}/`);
    return opened;
  }

  address(): { address: string; port: number } {
    const { address, port } = this.server.address() as AddressInfo;
    return { address, port };
  }

  async close(): Promise<void> {
    clearInterval(this.sampler);
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private sample(): void {
    const now = Date.now() / 1000;
    const seen = new Set<string>();
    for (const status of this.statuses()) {
      seen.add(status.channel);
      const points = this.lag.get(status.channel) ?? [];
      points.push([now, status.secondsBehindSource]);
      while (points.length > 0 && points[0]![0] < now - LAG_WINDOW_SECONDS) points.shift();
      this.lag.set(status.channel, points);
    }
    for (const name of this.lag.keys()) if (!seen.has(name)) this.lag.delete(name);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...HEADERS, Allow: 'GET, HEAD' }).end();
      return;
    }
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const send = (type: string, body: string) => {
      res.writeHead(200, { ...HEADERS, 'Content-Type': type }).end(req.method === 'HEAD' ? undefined : body);
    };
    switch (path) {
      case '/metrics':
        return send(this.metrics.contentType, await this.metrics.text());
      case '/':
        return send('text/html; charset=utf-8', STATUS_PAGE_HTML);
      case '/status.js':
        return send('text/javascript; charset=utf-8', STATUS_PAGE_JS);
      case '/status.css':
        return send('text/css; charset=utf-8', STATUS_PAGE_CSS);
      case '/status.json':
        return send('application/json; charset=utf-8', JSON.stringify(this.statusJson()));
      default:
        res.writeHead(404, { ...HEADERS, 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: try / or /metrics\n');
    }
  }

  private statusJson(): object {
    const now = Date.now() / 1000;
    const channels = this.statuses().map((status) => ({
      ...Object.fromEntries(PAGE_FIELDS.map((key) => [key, status[key]])),
      lag: [...this.lag.get(status.channel) ?? [], [now, status.secondsBehindSource]],
    }));
    const oldest = Math.min(now, ...channels.map((c) => c.lag[0]![0]!));
    const windowSeconds = Math.min(LAG_WINDOW_SECONDS, Math.max(LAG_MIN_WINDOW_SECONDS, Math.ceil(now - oldest)));
    return { now, windowSeconds, channels };
  }
}

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../dev/redis-server';
import { eventually } from './cli-process';
import { requireTool } from './tools';

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
}

export interface PrometheusServerOptions {
  /** Absolute paths of rule files to load. */
  ruleFiles: string[];
  /** host:port of each /metrics endpoint, scraped as job `printery-workers`. */
  targets: string[];
}

/**
 * A real Prometheus server (Debian's `prometheus`) on a free loopback port,
 * its TSDB in a temp dir, scraping and evaluating rules every second.
 */
export class PrometheusServer {
  private constructor(
    private readonly process: ChildProcess,
    private readonly dir: string,
    readonly base: string,
    private readonly output: { text: string },
  ) {}

  static async start(options: PrometheusServerOptions): Promise<PrometheusServer> {
    const binary = requireTool('prometheus');
    const dir = mkdtempSync(join(tmpdir(), 'printery-prometheus-'));
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      stringify({
        global: { scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
        rule_files: options.ruleFiles,
        scrape_configs: [
          { job_name: 'printery-workers', static_configs: [{ targets: options.targets }] },
        ],
      }),
    );
    const port = await freePort();
    const child = spawn(
      binary,
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const output = { text: '' };
    child.stdout?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output.text += chunk.toString()));
    const server = new PrometheusServer(child, dir, `http://127.0.0.1:${port}`, output);
    try {
      await eventually(async () => {
        if (child.exitCode !== null) {
          throw new Error(`prometheus exited ${child.exitCode}: ${output.text}`);
        }
        return (await fetch(`${server.base}/-/ready`)).ok;
      }, 20_000);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** `data.result` of an instant query. */
  async query(
    expr: string,
  ): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>> {
    const data = (await this.api(`/api/v1/query?query=${encodeURIComponent(expr)}`)) as {
      result: Array<{ metric: Record<string, string>; value: [number, string] }>;
    };
    return data.result;
  }

  /** Alerts pending or firing now. */
  async alerts(): Promise<PrometheusAlert[]> {
    return ((await this.api('/api/v1/alerts')) as { alerts: PrometheusAlert[] }).alerts;
  }

  /** What Prometheus logged, for a failure message. */
  get log(): string {
    return this.output.text;
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.signalCode === null) {
      const exited = new Promise((resolve) => this.process.once('exit', resolve));
      this.process.kill('SIGTERM');
      const timer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async api(path: string): Promise<unknown> {
    const response = await fetch(`${this.base}${path}`, { signal: AbortSignal.timeout(2000) });
    const body = (await response.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== 'success') {
      throw new Error(`Prometheus ${path}: ${body.error ?? response.status}`);
    }
    return body.data;
  }
}

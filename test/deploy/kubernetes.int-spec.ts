import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import type { IContainer, IEnvVar } from 'kubernetes-models/v1';
import { ScaledObject, TriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import type { AppConfig } from '../../src/config';
import { StreamTopology } from '../../src/streams/topology';
import { CliProcess } from '../helpers/cli-process';
import { REPO } from '../helpers/deploy-files';
import { findTool, runTool } from '../helpers/tools';

// Real: kubectl's kustomize (when installed; else the base's files are read
// as listed), the Kubernetes, KEDA and Prometheus Operator schemas
// (kubernetes-models), and the built CLI's `config` for the settings.

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

/** The schema of each kind the manifests may hold; anything else is a mistake. */
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Namespace': Namespace,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'keda.sh/v1alpha1/ScaledObject': ScaledObject,
  'keda.sh/v1alpha1/TriggerAuthentication': TriggerAuthentication,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const kubectl = findTool('kubectl');

function documents(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((doc): doc is K8sObject => doc !== null);
}

/** The files a kustomization lists, read as they are (no transformation applied). */
function readKustomization(dir: string): K8sObject[] {
  const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  return kustomization.resources.flatMap((resource) =>
    resource.endsWith('.yaml')
      ? documents(readFileSync(join(dir, resource), 'utf8'))
      : readKustomization(join(dir, resource)),
  );
}

async function render(dir: string): Promise<K8sObject[]> {
  if (!kubectl) {
    return readKustomization(join(REPO, dir));
  }
  const result = await runTool(kubectl, ['kustomize', join(REPO, dir)]);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  return documents(result.stdout);
}

function only<T>(objects: K8sObject[], kind: string): T {
  const found = objects.filter((object) => object.kind === kind);
  expect(found.map((object) => object.kind)).toEqual([kind]);
  return found[0] as unknown as T;
}

/** `ENV` of the Dockerfile: what the image sets before the pod's own environment. */
function imageEnv(): Record<string, string> {
  const dockerfile = readFileSync(join(REPO, 'Dockerfile'), 'utf8').replace(/\\\n/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((l) => l.startsWith('ENV '))) {
    for (const [, key, value] of line.matchAll(/(\w+)=(\S+)/g)) {
      env[key as string] = value as string;
    }
  }
  return env;
}

/**
 * The environment the container gets: the image's, the ConfigMap's
 * (envFrom), then its own `env` with `$(VAR)` expanded as the kubelet does.
 * Secret references become placeholders: their values are never here.
 */
function containerEnv(container: IContainer, configMaps: ConfigMap[]): Record<string, string> {
  const env = imageEnv();
  for (const source of container.envFrom ?? []) {
    const configMap = configMaps.find((cm) => cm.metadata?.name === source.configMapRef?.name);
    expect(configMap).toBeDefined();
    Object.assign(env, configMap?.data);
  }
  for (const variable of container.env ?? []) {
    env[variable.name] = variable.valueFrom?.secretKeyRef
      ? `secret-${variable.valueFrom.secretKeyRef.key}`
      : (variable.value ?? '').replace(/\$\((\w+)\)/g, (whole, name: string) => env[name] ?? whole);
  }
  return env;
}

interface ConfigReport {
  config: AppConfig;
  sources: Record<string, { from: string; name?: string }>;
  problems: string[];
}

async function effectiveConfig(env: Record<string, string>): Promise<ConfigReport> {
  const result = await CliProcess.run(['config', '--json'], env);
  expect(result.stderr).toBe('');
  expect(result.code).toBe(0);
  const report = JSON.parse(result.stdout) as ConfigReport;
  expect(report.problems).toEqual([]);
  return report;
}

function selects(selector: Record<string, string> | undefined, labels: Record<string, string>) {
  return Object.entries(selector ?? {}).every(([key, value]) => labels[key] === value);
}

const HOW = kubectl
  ? 'rendered by kubectl kustomize'
  : 'read from its files (kubectl is not installed)';

describe.each(['deploy/kubernetes', ...(kubectl ? ['deploy/overlays/production'] : [])])(
  `%s, ${HOW}`,
  (dir) => {
    let objects: K8sObject[];
    let deployment: Deployment;
    let container: IContainer;
    let env: Record<string, string>;
    let config: AppConfig;
    let sources: ConfigReport['sources'];

    beforeAll(async () => {
      objects = await render(dir);
      deployment = new Deployment(only(objects, 'Deployment'));
      container = deployment.spec?.template.spec?.containers[0] as IContainer;
      const configMaps = objects.filter((o) => o.kind === 'ConfigMap') as unknown as ConfigMap[];
      env = containerEnv(container, configMaps);
      ({ config, sources } = await effectiveConfig(env));
    });

    it('holds only known kinds, each valid against its official schema', () => {
      expect(objects.map((object) => object.kind)).toEqual(
        expect.arrayContaining([
          'ConfigMap',
          'Deployment',
          'PodDisruptionBudget',
          'PrometheusRule',
          'ScaledObject',
          'Service',
          'ServiceAccount',
          'ServiceMonitor',
          'TriggerAuthentication',
        ]),
      );
      for (const object of objects) {
        const Model = MODELS[`${object.apiVersion}/${object.kind}`];
        expect({ kind: `${object.apiVersion}/${object.kind}`, known: Model !== undefined }).toEqual(
          {
            kind: `${object.apiVersion}/${object.kind}`,
            known: true,
          },
        );
        expect(() =>
          new (Model as (typeof MODELS)[string])(object as never).validate(),
        ).not.toThrow();
      }
    });

    it('gives the service a configuration it accepts, with secrets only by reference', () => {
      expect(config.environment).toBe('production');
      expect(objects.some((object) => object.kind === 'Secret')).toBe(false);
      const secrets = (container.env ?? []).filter((v: IEnvVar) => v.valueFrom?.secretKeyRef);
      expect(secrets.map((v) => v.name).sort()).toEqual([
        'NOTIFY_WEBHOOK_SECRET',
        'REDIS_PASSWORD',
      ]);
      for (const configMap of objects.filter((o) => o.kind === 'ConfigMap')) {
        for (const key of Object.keys((configMap as { data?: object }).data ?? {})) {
          expect(key).not.toMatch(/PASSWORD|SECRET|TOKEN/);
        }
      }
    });

    it('probes the real health paths on the port the service listens on', () => {
      const port = container.ports?.find((p) => p.containerPort === config.port);
      expect(port?.name).toBeDefined();
      const probe = (which: 'livenessProbe' | 'readinessProbe' | 'startupProbe') => {
        const get = container[which]?.httpGet;
        return { path: get?.path, port: get?.port };
      };
      expect(probe('livenessProbe')).toEqual({ path: '/health/live', port: port?.name });
      expect(probe('readinessProbe')).toEqual({ path: '/health/ready', port: port?.name });
      expect(probe('startupProbe')).toEqual({ path: '/health/live', port: port?.name });
      // HTTP listens once Redis answers, which may take the whole startup timeout.
      const startup = container.startupProbe;
      const startupBudgetMs =
        (startup?.periodSeconds ?? 10) * (startup?.failureThreshold ?? 3) * 1000;
      expect(startupBudgetMs).toBeGreaterThan(config.redis.startupTimeoutMs);
      expect(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).toMatch(
        new RegExp(`^EXPOSE ${config.port}$`, 'm'),
      );
    });

    it('lets a shutdown finish within the grace period', () => {
      // The timeout compared is the one the pod gets, not a default.
      expect(sources['supervisor.shutdownTimeoutMs']).toEqual({
        from: 'environment',
        name: 'SHUTDOWN_TIMEOUT_MS',
      });
      const graceSeconds = deployment.spec?.template.spec?.terminationGracePeriodSeconds ?? 30;
      expect(graceSeconds * 1000).toBeGreaterThan(config.supervisor.shutdownTimeoutMs);
    });

    it('runs non-root on a read-only root file system, without privilege escalation, within resources', () => {
      const pod = deployment.spec?.template.spec;
      expect(pod?.securityContext?.runAsNonRoot).toBe(true);
      // Numeric, so the kubelet can check the image's named user (`USER node`).
      expect(pod?.securityContext?.runAsUser).toBe(1000);
      expect(readFileSync(join(REPO, 'Dockerfile'), 'utf8')).toMatch(/^USER node$/m);
      expect(container.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      const tmp = container.volumeMounts?.find((mount) => mount.mountPath === '/tmp');
      expect(pod?.volumes?.find((volume) => volume.name === tmp?.name)?.emptyDir).toBeDefined();
      for (const bound of ['requests', 'limits'] as const) {
        expect(Object.keys(container.resources?.[bound] ?? {}).sort()).toEqual(['cpu', 'memory']);
      }
      // The ScaledObject's HPA owns the replica count.
      expect(deployment.spec?.replicas).toBeUndefined();
    });

    it('exposes the metrics port to a ServiceMonitor, and budgets disruptions of the same pods', () => {
      const podLabels = deployment.spec?.template.metadata?.labels ?? {};
      const service = only<Service>(objects, 'Service');
      expect(selects(service.spec?.selector, podLabels)).toBe(true);
      expect(service.spec?.publishNotReadyAddresses).toBe(true);
      const servicePort = service.spec?.ports?.[0];
      expect(servicePort?.targetPort).toBe(
        container.ports?.find((p) => p.containerPort === config.port)?.name,
      );
      const monitor = only<ServiceMonitor>(objects, 'ServiceMonitor');
      expect(selects(monitor.spec.selector.matchLabels, service.metadata?.labels ?? {})).toBe(true);
      expect(monitor.spec.endpoints?.map((e) => [e.port, e.path])).toEqual([
        [servicePort?.name, '/metrics'],
      ]);
      const budget = only<PodDisruptionBudget>(objects, 'PodDisruptionBudget');
      expect(selects(budget.spec?.selector?.matchLabels, podLabels)).toBe(true);
      expect(selects(deployment.spec?.selector.matchLabels, podLabels)).toBe(true);
      expect(deployment.spec?.template.spec?.serviceAccountName).toBe(
        only<ServiceAccount>(objects, 'ServiceAccount').metadata?.name,
      );
    });

    it("scales on the lag of every stream and group the workers read, with the pods' Redis and password", () => {
      const scaled = only<ScaledObject>(objects, 'ScaledObject');
      expect(scaled.spec.scaleTargetRef.name).toBe(deployment.metadata?.name);
      expect(scaled.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(scaled.spec.maxReplicaCount).toBeGreaterThanOrEqual(scaled.spec.minReplicaCount ?? 1);

      const topology = new StreamTopology(config.streams.prefix, config.streams.registryPrefix);
      const expected = topology.allReads().map(({ stream, group }) => `${stream} ${group}`);
      const triggers = scaled.spec.triggers;
      expect(
        triggers.map((t) => `${t.metadata.stream} ${t.metadata.consumerGroup}`).sort(),
      ).toEqual(expected.sort());

      const auth = only<TriggerAuthentication>(objects, 'TriggerAuthentication');
      const password = (container.env ?? []).find((v) => v.name === 'REDIS_PASSWORD');
      expect(auth.spec.secretTargetRef).toEqual([
        {
          parameter: 'password',
          name: password?.valueFrom?.secretKeyRef?.name,
          key: password?.valueFrom?.secretKeyRef?.key,
        },
      ]);
      for (const trigger of triggers) {
        expect(trigger.type).toBe('redis-streams');
        expect(trigger.authenticationRef?.name).toBe(auth.metadata?.name);
        expect(trigger.metadata.lagCount).toMatch(/^[1-9]\d*$/);
        expect(trigger.metadata.activationLagCount).toMatch(/^\d+$/);
        // KEDA reads the address from the pod's own environment, which REDIS_URL is built from.
        const address = env[trigger.metadata.addressFromEnv ?? ''];
        expect(address).toMatch(/^[\w.-]+:\d+$/);
        expect(config.redis.url).toBe(`redis://${address}`);
      }
    });
  },
);

describe(`deploy/overlays/production, ${HOW}`, () => {
  const dir = join(REPO, 'deploy/overlays/production');

  if (kubectl) {
    it('puts every object in its namespace and runs its own image', async () => {
      const objects = await render('deploy/overlays/production');
      for (const object of objects.filter((o) => o.kind !== 'Namespace')) {
        expect([object.kind, object.metadata.namespace]).toEqual([object.kind, 'printery']);
      }
      const deployment = new Deployment(only(objects, 'Deployment'));
      expect(deployment.spec?.template.spec?.containers[0]?.image).toMatch(
        /^registry\.example\.com\/platform\/printery-workers:\d+\.\d+\.\d+$/,
      );
    });
  } else {
    // Without kubectl nothing here renders the overlay: check what its files say.
    it('patches only objects the base has', () => {
      const base = readKustomization(join(REPO, 'deploy/kubernetes'));
      const kustomization = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as {
        patches: Array<{ path?: string }>;
      };
      for (const patch of kustomization.patches.filter((p) => p.path)) {
        const target = documents(readFileSync(join(dir, patch.path as string), 'utf8'))[0];
        expect(
          base.some((o) => o.kind === target?.kind && o.metadata.name === target?.metadata.name),
        ).toBe(true);
      }
    });
  }
});

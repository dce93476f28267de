import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CONFIG_VARS, loadConfig } from '../../src/config.js';

/**
 * docker/k8s/ is an example, but it must stay true to the gateway: these checks parse every
 * manifest (the `yaml` package) and hold it against the config schema and its defaults.
 */

const DIR = join(import.meta.dirname, '../../docker/k8s');

const Probe = z.object({ httpGet: z.object({ path: z.string(), port: z.union([z.string(), z.number()]) }), periodSeconds: z.number(), failureThreshold: z.number().optional() });
const Container = z.object({
  name: z.string(),
  image: z.string(),
  ports: z.array(z.object({ name: z.string(), containerPort: z.number() })),
  envFrom: z.array(z.object({ configMapRef: z.object({ name: z.string() }).optional(), secretRef: z.object({ name: z.string() }).optional() })),
  volumeMounts: z.array(z.object({ name: z.string(), mountPath: z.string() })),
  resources: z.object({ requests: z.object({ cpu: z.string(), memory: z.string() }), limits: z.object({ memory: z.string() }) }),
  startupProbe: Probe,
  livenessProbe: Probe,
  readinessProbe: Probe,
});
const Labels = z.record(z.string(), z.string());
const Deployment = z.object({
  kind: z.literal('Deployment'),
  metadata: z.object({ name: z.string() }),
  spec: z.object({
    replicas: z.number(),
    strategy: z.object({ type: z.string() }),
    selector: z.object({ matchLabels: Labels }),
    template: z.object({
      metadata: z.object({ labels: Labels }),
      spec: z.object({
        terminationGracePeriodSeconds: z.number(),
        securityContext: z.object({ runAsUser: z.number(), fsGroup: z.number() }),
        containers: z.array(Container).length(1),
        volumes: z.array(z.object({ name: z.string(), persistentVolumeClaim: z.object({ claimName: z.string() }) })),
      }),
    }),
  }),
});
const Service = z.object({ kind: z.literal('Service'), spec: z.object({ selector: Labels, ports: z.array(z.object({ name: z.string(), port: z.number(), targetPort: z.union([z.string(), z.number()]) })) }) });
const Pvc = z.object({ kind: z.literal('PersistentVolumeClaim'), metadata: z.object({ name: z.string() }), spec: z.object({ accessModes: z.array(z.string()) }) });
const ConfigMap = z.object({ kind: z.literal('ConfigMap'), metadata: z.object({ name: z.string() }), data: z.record(z.string(), z.string()) });
const Secret = z.object({ kind: z.literal('Secret'), metadata: z.object({ name: z.string() }), stringData: z.record(z.string(), z.string()) });
const Kustomization = z.object({ kind: z.literal('Kustomization'), resources: z.array(z.string()) });

/** Every document of every .yaml file, parsed (a syntax error fails here). */
function manifests(): { file: string; doc: unknown }[] {
  const out: { file: string; doc: unknown }[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const document of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      expect(document.errors, file).toEqual([]);
      const doc: unknown = document.toJS();
      out.push({ file, doc });
    }
  }
  return out;
}

function one<T>(schema: z.ZodType<T>, kind: string): T {
  const found = manifests().filter(({ doc }) => typeof doc === 'object' && doc !== null && 'kind' in doc && doc.kind === kind);
  expect(found.map((f) => f.file), kind).toHaveLength(1);
  return schema.parse(found[0]?.doc);
}

/** Kubernetes memory quantities used here (Mi, Gi) in MB (10^6 bytes, like docs/benchmarks.md). */
function megabytes(quantity: string): number {
  const match = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!match) throw new Error(`unexpected quantity ${quantity}`);
  return (Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2)) / 1e6;
}

describe('docker/k8s manifests', () => {
  const deployment = one(Deployment, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const configMap = one(ConfigMap, 'ConfigMap');
  const secret = one(Secret, 'Secret');
  const env = { ...configMap.data, ...secret.stringData };

  it('parses, and the kustomization lists every other file', () => {
    const files = readdirSync(DIR).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml');
    expect(one(Kustomization, 'Kustomization').resources.sort()).toEqual(files.sort());
  });

  it('runs one replica per set of sessions, never two pods at once', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
  });

  it('gives the example env to the container, and the gateway accepts it', () => {
    expect(container?.envFrom).toEqual([{ configMapRef: { name: configMap.metadata.name } }, { secretRef: { name: secret.metadata.name } }]);
    expect(Object.keys(secret.stringData).sort()).toEqual(['API_KEY', 'REDIS_URL', 'WEBHOOK_SECRET']);
    for (const name of Object.keys(env)) expect(Object.keys(CONFIG_VARS), name).toContain(name);
    const config = loadConfig(env);
    expect(config.redis?.url).toBe(secret.stringData.REDIS_URL);
  });

  it('probes liveness on /health/live, readiness on /health/ready, the startup on the port opening', () => {
    const port = container?.ports.find((p) => p.name === 'http');
    expect(port?.containerPort).toBe(loadConfig(env).port);
    expect(container?.livenessProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    expect(container?.readinessProbe.httpGet).toEqual({ path: '/health/ready', port: 'http' });
    expect(container?.startupProbe.httpGet).toEqual({ path: '/health/live', port: 'http' });
    // Five minutes to restore every session before liveness counts.
    expect((container?.startupProbe.periodSeconds ?? 0) * (container?.startupProbe.failureThreshold ?? 0)).toBeGreaterThanOrEqual(300);
  });

  it('lets a graceful shutdown finish: the grace period is above SHUTDOWN_TIMEOUT', () => {
    const configured = loadConfig(env).shutdownTimeoutMs;
    expect(configured).toBe(loadConfig({ API_KEY: 'k' }).shutdownTimeoutMs); // the example keeps the default (25 s)
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(configured);
  });

  it('mounts a PersistentVolumeClaim at SESSIONS_PATH, writable by the image user', () => {
    const pvc = one(Pvc, 'PersistentVolumeClaim');
    const volume = pod.volumes.find((v) => v.persistentVolumeClaim.claimName === pvc.metadata.name);
    expect(volume).toBeDefined();
    expect(container?.volumeMounts).toContainEqual({ name: volume?.name, mountPath: loadConfig(env).sessionsPath });
    expect(pvc.spec.accessModes).toEqual(['ReadWriteOnce']);
    // docker/Dockerfile: USER node (uid 1000), SESSIONS_PATH=/app/sessions.
    const dockerfile = readFileSync(join(DIR, '../Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/SESSIONS_PATH=\/app\/sessions/);
    expect(pod.securityContext).toMatchObject({ runAsUser: 1000, fsGroup: 1000 });
  });

  it('sizes memory by the measured figures for WHATSAPP_MAX_SESSIONS webjs sessions', () => {
    const n = loadConfig(env).whatsapp.maxSessions;
    // docs/benchmarks.md: idle gateway ≈ 93 MB, first webjs session ≈ +300 MB, each further ≈ +100 MB.
    const measured = 93 + 300 + 100 * (n - 1);
    const requested = megabytes(container?.resources.requests.memory ?? '0Mi');
    expect(requested).toBeGreaterThanOrEqual(measured);
    expect(megabytes(container?.resources.limits.memory ?? '0Mi')).toBeGreaterThanOrEqual(100 + 400 * n);
  });

  it('exposes the container port through the Service', () => {
    const service = one(Service, 'Service');
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(service.spec.ports).toEqual([{ name: 'http', port: 3001, targetPort: 'http' }]);
  });
});

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { envSchema, loadEnv } from '../../src/infrastructure/config/env.js';
import YAML from 'yaml';

/** docker-compose.yml read as Docker Compose would, checked without Docker. */

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  volumes?: string[];
  depends_on?: Record<string, { condition?: string }>;
  healthcheck?: { test?: string[] };
  stop_grace_period?: string;
  ports?: string[];
}

const compose = YAML.parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8')) as unknown as {
  services: Record<string, Service>;
  volumes: Record<string, null>;
};
const natsConf = readFileSync(new URL('../../deploy/nats.conf', import.meta.url), 'utf8');
const services = compose.services;
const roles = ['api', 'worker', 'projector'] as const;
const infrastructure = ['postgres', 'nats', 'kurrentdb'] as const;
const healthcheck = (name: string) => (services[name]?.healthcheck?.test ?? []).join(' ');

/** What Compose makes of `${VAR}`, `${VAR:-default}` and `${VAR:?message}` when only `given` are set. */
function interpolate(value: string, given: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?:(:?[-?])([^}]*))?\}/g, (_, name: string, operator: string | undefined, argument: string) => {
    if (given[name]) return given[name];
    if (operator?.endsWith('?')) throw new Error(`${name} must be set: ${argument}`);
    return operator?.endsWith('-') ? argument : '';
  });
}

describe('docker-compose.yml', () => {
  it('has the api, worker and projector on one image, and KurrentDB, PostgreSQL and NATS', () => {
    expect(Object.keys(services).sort()).toEqual([...roles, ...infrastructure].sort());
    const images = new Set(roles.map((role) => services[role]!.image));
    expect(images.size).toBe(1);
    for (const role of roles) {
      expect(services[role]!.build).toBe('.');
      expect(services[role]!.environment?.COMM_ROLES).toBe(role);
    }
    expect(Object.values(services).filter((s) => s.ports?.some((p) => p.endsWith(':3000')))).toEqual([services.api]);
  });

  it('gives every service a health check: readiness probe, pg_isready, NATS /healthz, KurrentDB /health/live', () => {
    for (const name of Object.keys(services)) expect(services[name]!.healthcheck?.test?.length, name).toBeGreaterThan(0);
    for (const role of roles) expect(healthcheck(role)).toContain('http://localhost:3000/health/ready');
    expect(healthcheck('postgres')).toContain('pg_isready');
    expect(healthcheck('kurrentdb')).toContain('/health/live');
    const monitoringPort = /^http_port:\s*(\d+)/m.exec(natsConf)?.[1];
    expect(monitoringPort).toBeDefined();
    expect(healthcheck('nats')).toContain(`http://localhost:${monitoringPort}/healthz`);
  });

  it('starts the service once its stores are healthy, and the worker and projector after the api', () => {
    for (const role of roles) {
      const dependsOn = services[role]!.depends_on ?? {};
      for (const store of infrastructure) expect(dependsOn[store]?.condition, `${role} → ${store}`).toBe('service_healthy');
    }
    for (const role of ['worker', 'projector']) expect(services[role]!.depends_on?.api?.condition).toBe('service_healthy');
    expect(services.api!.depends_on?.worker).toBeUndefined();
  });

  it('sets only environment variables the service accepts, with values it accepts', () => {
    const accepted = new Set(Object.keys(envSchema.shape));
    const given = { COMM_ADMIN_API_KEY: 'cm_test_0123456789abcdefghijklmnop' };
    for (const role of roles) {
      const environment = services[role]!.environment ?? {};
      expect(Object.keys(environment).filter((name) => !accepted.has(name)), role).toEqual([]);
      const resolved = Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, interpolate(String(value), given)]));
      expect(() => loadEnv(resolved), role).not.toThrow();
      expect(loadEnv(resolved).COMM_ROLES).toEqual(new Set([role]));
    }
  });

  it('points the service at the compose stores: KurrentDB for events, PostgreSQL, NATS', () => {
    for (const role of roles) {
      const environment = services[role]!.environment ?? {};
      expect(environment.DATABASE_URL).toMatch(/@postgres:5432\//);
      expect(environment.EVENTSTORE_URL).toMatch(/^esdb:\/\/kurrentdb:2113/);
      expect(environment.NATS_URL).toBe('nats://nats:4222');
    }
  });

  it('declares every named volume it mounts, and mounts every one it declares', () => {
    const named = Object.values(services)
      .flatMap((service) => service.volumes ?? [])
      .map((volume) => volume.split(':')[0]!)
      .filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    expect(new Set(named)).toEqual(new Set(Object.keys(compose.volumes)));
    // One data volume for the three roles: the secrets the api generates on first start are read by the others.
    for (const role of roles) expect(services[role]!.volumes).toContain('communication-data:/var/lib/communication');
  });

  it('lets a service finish its shutdown (15 s at most) before Docker kills it', () => {
    for (const role of roles) {
      const grace = /^(\d+)s$/.exec(services[role]!.stop_grace_period ?? '')?.[1];
      expect(Number(grace), role).toBeGreaterThan(15);
    }
  });

  it('runs NATS with deploy/nats.conf, JetStream syncing every write to disk', () => {
    const nats = services.nats!;
    const configPath = nats.command?.[nats.command.indexOf('--config') + 1];
    expect(nats.volumes).toContain(`./deploy/nats.conf:${configPath}:ro`);
    const jetstream = /jetstream\s*\{([^}]*)\}/.exec(natsConf)?.[1] ?? '';
    expect(jetstream).toMatch(/^\s*sync_interval:\s*always\s*$/m);
    const storeDir = /^\s*store_dir:\s*(\S+)\s*$/m.exec(jetstream)?.[1];
    expect(nats.volumes).toContain(`nats-data:${storeDir}`);
  });
});

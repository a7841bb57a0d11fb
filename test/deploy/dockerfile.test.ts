import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

/** The Dockerfile read without Docker: the image runs what its build stage compiles. */

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), 'utf8');
const stages = read('Dockerfile').split(/^FROM /m).slice(1);
const [build, run] = [stages[0] ?? '', stages.at(-1) ?? ''];

describe('Dockerfile', () => {
  it('compiles src with tsconfig.build.json in a build stage, and the last stage runs the compiled main', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(build).toMatch(/^RUN npm run build$/m);
    const packageJson = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
    expect(packageJson.scripts.build).toBe('tsc -p tsconfig.build.json');
    const tsconfig = JSON.parse(read('tsconfig.build.json')) as { compilerOptions: { rootDir: string; outDir: string } };
    expect(tsconfig.compilerOptions).toMatchObject({ rootDir: 'src', outDir: 'dist' });
    // src/main.ts compiles to dist/main.js, which the last stage copies and runs.
    expect(run).toMatch(/^COPY --from=build \/app\/dist \.\/dist$/m);
    expect(run).toMatch(/^CMD \["node", "--max-semi-space-size=64", "dist\/main\.js"\]$/m);
    // The same node flags as `npm start`.
    expect(packageJson.scripts.start).toBe('node --max-semi-space-size=64 --import tsx src/main.ts');
    expect(run).toMatch(/npm ci --omit=dev/);
  });

  it('runs as an unprivileged user who owns the data directory', () => {
    const dataDir = /COMM_DATA_DIR=(\S+)/.exec(run)?.[1];
    expect(dataDir).toBeDefined();
    expect(run).toContain(`chown node:node ${dataDir}`);
    expect(run).toMatch(/^USER node$/m);
  });
});

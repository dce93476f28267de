import { copyFile, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ts from 'typescript';
import { REPO_ROOT, runNodeScript, tail } from './processes.js';
import { tempDir } from './temp.js';

export interface CompiledBuild {
  /** The gateway compiled by `tsc -p tsconfig.build.json` (what `npm run start:dist` runs). */
  gateway: string;
  /** bench/fixtures/bare-server.ts transpiled to JavaScript. */
  bare: string;
  ms: number;
  /** Removes the build directory. */
  remove(): Promise<void>;
}

/**
 * Compiles the gateway with the project's own build config into a temporary directory, and the
 * bare-server fixture next to it, so that both can run under plain `node`, without tsx. The
 * directory gets a copy of package.json (`"type": "module"`, and the version the app reads from
 * `../package.json`) and a symlink to the project's node_modules.
 */
export async function compileForBench(): Promise<CompiledBuild> {
  const started = performance.now();
  const build = await tempDir('wagw-bench-build-');
  const dir = build.path;
  const remove = (): Promise<void> => build.remove();
  try {
    const outDir = join(dir, 'dist');
    const result = await runNodeScript(join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', outDir], {
      env: process.env,
      plainNode: true,
      timeoutMs: 180_000,
    });
    if (result.code !== 0) throw new Error(`tsc failed (${result.code ?? result.signal ?? 'unknown'}):\n${tail(result.stdout)}${tail(result.stderr)}`);
    await copyFile(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');

    const source = await readFile(join(REPO_ROOT, 'bench', 'fixtures', 'bare-server.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 } });
    await mkdir(join(dir, 'fixtures'), { recursive: true });
    const bare = join(dir, 'fixtures', 'bare-server.js');
    await writeFile(bare, outputText);
    return { gateway: join(outDir, 'server.js'), bare, ms: performance.now() - started, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

export interface CompiledSources {
  /** The compiled JavaScript of a repository TypeScript file: 'bench/workers/x.worker.ts' → '<build>/bench/workers/x.worker.js'. */
  script(source: string): string;
  ms: number;
  /** Removes the build directory. */
  remove(): Promise<void>;
}

/**
 * Compiles `src/` and `bench/` with the project's tsconfig (tsc, as `npm run build` compiles the
 * gateway) into a temporary directory, laid out like the repository, with a copy of package.json
 * and a symlink to node_modules — so that the send benchmarks' servers and load generator run
 * under plain `node`, as the Docker image runs the gateway, instead of through tsx (whose
 * transform, esbuild with `keepNames`, wraps every named closure in a `__name` call).
 */
export async function compileSources(): Promise<CompiledSources> {
  const started = performance.now();
  const build = await tempDir('wagw-bench-sources-');
  const dir = build.path;
  const remove = (): Promise<void> => build.remove();
  try {
    const config = {
      extends: join(REPO_ROOT, 'tsconfig.json'),
      // typeRoots: `types: ["node"]` would be looked up from this file's directory.
      compilerOptions: { noEmit: false, rootDir: REPO_ROOT, outDir: dir, typeRoots: [join(REPO_ROOT, 'node_modules', '@types')] },
      include: [join(REPO_ROOT, 'src'), join(REPO_ROOT, 'bench')],
    };
    const configPath = join(dir, 'tsconfig.bench-build.json');
    await writeFile(configPath, JSON.stringify(config));
    const result = await runNodeScript(join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), ['-p', configPath], {
      env: process.env,
      plainNode: true,
      timeoutMs: 180_000,
    });
    if (result.code !== 0) throw new Error(`tsc failed (${result.code ?? result.signal ?? 'unknown'}):\n${tail(result.stdout)}${tail(result.stderr)}`);
    await copyFile(join(REPO_ROOT, 'package.json'), join(dir, 'package.json'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    return { script: (source) => join(dir, source.replace(/\.ts$/, '.js')), ms: performance.now() - started, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

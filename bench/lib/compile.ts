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

export interface CompiledSources {
  /** The compiled JavaScript of a repository TypeScript file: 'bench/workers/x.worker.ts' → '<build>/bench/workers/x.worker.js'. */
  script(source: string): string;
  ms: number;
  /** Removes the build directory. */
  remove(): Promise<void>;
}

/** Runs the project's tsc under plain node; throws with its output when it fails. */
async function tsc(args: readonly string[]): Promise<void> {
  const result = await runNodeScript(join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), args, { env: process.env, plainNode: true, timeoutMs: 180_000 });
  if (result.code !== 0) throw new Error(`tsc failed (${result.code ?? result.signal ?? 'unknown'}):\n${tail(result.stdout)}${tail(result.stderr)}`);
}

/**
 * Makes a temporary build directory, lets `build` fill it, then gives it a copy of package.json
 * (`"type": "module"`, and the version the app reads from `../package.json`) and a symlink to the
 * project's node_modules, so that what was built there runs under plain `node`. The directory is
 * removed again when `build` fails.
 */
async function inBuildDirectory<T>(prefix: string, build: (dir: string) => Promise<T>): Promise<T & { ms: number; remove(): Promise<void> }> {
  const started = performance.now();
  const directory = await tempDir(prefix);
  const remove = (): Promise<void> => directory.remove();
  try {
    const built = await build(directory.path);
    await copyFile(join(REPO_ROOT, 'package.json'), join(directory.path, 'package.json'));
    await symlink(join(REPO_ROOT, 'node_modules'), join(directory.path, 'node_modules'), 'dir');
    return { ...built, ms: performance.now() - started, remove };
  } catch (error) {
    await remove();
    throw error;
  }
}

/**
 * Compiles the gateway with the project's own build config into a temporary directory, and the
 * bare-server fixture next to it, so that both can run under plain `node`, without tsx.
 */
export function compileForBench(): Promise<CompiledBuild> {
  return inBuildDirectory('wagw-bench-build-', async (dir) => {
    const outDir = join(dir, 'dist');
    await tsc(['-p', 'tsconfig.build.json', '--outDir', outDir]);
    const source = await readFile(join(REPO_ROOT, 'bench', 'fixtures', 'bare-server.ts'), 'utf8');
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2023 } });
    await mkdir(join(dir, 'fixtures'), { recursive: true });
    const bare = join(dir, 'fixtures', 'bare-server.js');
    await writeFile(bare, outputText);
    return { gateway: join(outDir, 'server.js'), bare };
  });
}

/**
 * Compiles `src/` and `bench/` with the project's tsconfig (tsc, like `npm run build` compiles the
 * gateway) into a temporary directory laid out like the repository — so that the send benchmarks'
 * servers and load generator run under plain `node`, the way the Docker image runs the gateway,
 * and not through tsx (whose transform, esbuild with `keepNames`, wraps every named closure in a
 * `__name` call).
 */
export function compileSources(): Promise<CompiledSources> {
  return inBuildDirectory('wagw-bench-sources-', async (dir) => {
    const config = {
      extends: join(REPO_ROOT, 'tsconfig.json'),
      // typeRoots: `types: ["node"]` would be looked up from this file's directory.
      compilerOptions: { noEmit: false, rootDir: REPO_ROOT, outDir: dir, typeRoots: [join(REPO_ROOT, 'node_modules', '@types')] },
      include: [join(REPO_ROOT, 'src'), join(REPO_ROOT, 'bench')],
    };
    const configPath = join(dir, 'tsconfig.bench-build.json');
    await writeFile(configPath, JSON.stringify(config));
    await tsc(['-p', configPath]);
    return { script: (source: string): string => join(dir, source.replace(/\.ts$/, '.js')) };
  });
}

/**
 * The build a send benchmark runs its servers and load generator from: `compileSources()`, logged
 * under `bench`'s name, or null when `fromSource` (through tsx, `--tsx`).
 */
export async function sendBenchBuild(bench: string, fromSource: boolean): Promise<CompiledSources | null> {
  if (fromSource) return null;
  const compiled = await compileSources();
  console.log(`  ${bench}: compiled src/ and bench/ with tsc in ${(compiled.ms / 1_000).toFixed(1)} s (servers and load generator run under plain node)`);
  return compiled;
}

/** How a send benchmark ran, for its raw results. */
export const runFrom = (compiled: CompiledSources | null): string => (compiled ? 'compiled (tsc, plain node)' : 'source (tsx)');

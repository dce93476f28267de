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

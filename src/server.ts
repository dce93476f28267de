import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { gatewayShutdownSteps, gracefulShutdown } from './lifecycle/graceful-shutdown.js';

/** Entry point: load config, build the app, listen, and shut down gracefully on SIGTERM/SIGINT. */
async function main(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) process.stderr.write(`config error: ${problem}\n`);
      process.exit(78);
    }
    throw error;
  }

  const app = await buildApp(config);
  const onSignal = gracefulShutdown({
    timeoutMs: config.shutdownTimeoutMs,
    steps: gatewayShutdownSteps(app, config.shutdownDelayMs),
    logger: app.log,
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  await app.listen({ port: config.port, host: config.host });
}

main().catch((error: unknown) => {
  process.stderr.write(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});

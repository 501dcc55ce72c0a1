import { loadConfig } from '../../config/load-config.js';
import { configPath, parse, positionals } from '../args.js';
import { println, type CliContext, type CommandGroup } from '../command.js';

const help = `Usage:
  postern start [--config FILE]

Runs the server in the foreground until SIGTERM or SIGINT, then closes the listeners, lets
deliveries in flight finish and exits 0. A second signal exits at once with code 1.
SIGHUP, or saving the config file, reloads the plugins (see postern plugin reload).`;

export const startCommand: CommandGroup = {
  name: 'start',
  summary: 'run the server in the foreground',
  help,
  async run(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, {}, 'start');
    if (values.help) {
      println(ctx, help);
      return 0;
    }
    positionals(pos, [], 'start');
    const config = loadConfig(configPath(ctx, values.config));
    // Loaded only here, so the admin commands never pay for the SMTP stack and plugin host.
    const { startServer } = await import('../../server.js');
    const { captureConsole, createLogger } = await import('../../logging.js');
    const log = createLogger(config);
    captureConsole(log);
    const server = await startServer(config, log);
    // SIGHUP (what `postern plugin reload` sends) builds a new plugin generation; so do edits to
    // the config file and to plugin sources (the server watches them). A broken one is refused and
    // the current one keeps serving.
    process.on('SIGHUP', () => void server.reload());
    const signal = await new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGTERM', resolve).once('SIGINT', resolve);
    });
    const again = () => process.exit(1);
    process.once('SIGTERM', again).once('SIGINT', again);
    ctx.stderr.write(`postern: ${signal} received, shutting down\n`);
    await server.close();
    // Explicit exit: a stray timer or keep-alive socket must not keep a stopped server alive.
    process.exit(0);
  },
};


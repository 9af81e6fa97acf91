/** `burstgate up`: the embedded gateway on 127.0.0.1, until Ctrl-C. */
import { DEFAULT_STATE_DIR } from '../../shared/client/config';
import { HELP_OPTION, noPositionals, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { UsageError } from '../support/errors';
import { importFromSources } from '../support/package';

type CliUp = typeof import('../../infra/local/cli-up');

export const command: Command = {
  usage: `Usage: burstgate up [--state-dir DIR] [--port N]

Starts the embedded deployment (same handlers and state machines, local services) and keeps
running until Ctrl-C. Writes the API URL and a local API key to <state-dir>/api-url and
<state-dir>/api-key, where the other commands find them.

  --state-dir DIR   state directory (default ${DEFAULT_STATE_DIR})
  --port N          API port (default: the embedded deployment's choice)`,

  async run(args, o) {
    const { values, positionals } = parse('up', args, {
      'state-dir': { type: 'string' },
      port: { type: 'string' },
      ...HELP_OPTION,
    });
    if (values.help) return printUsage(o, command);
    noPositionals('up', positionals);
    let port: number | undefined;
    if (values.port !== undefined) {
      port = Number(values.port);
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        throw new UsageError('up', `--port must be a port number (0-65535), not '${values.port}'`);
      }
    }
    const { runUp } = await importFromSources<CliUp>('infra/local/cli-up.ts');
    await runUp({
      stateDir: values['state-dir'] ?? DEFAULT_STATE_DIR,
      ...(port !== undefined ? { port } : {}),
    });
    return 0;
  },
};

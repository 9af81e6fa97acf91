/** `burstgate demo` (what `npm start` runs): the sample VM out to the simulated clouds and back. */
import { HELP_OPTION, noPositionals, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { importFromSources } from '../support/package';

type Demo = typeof import('../../infra/local/demo');

export const command: Command = {
  usage: `Usage: burstgate demo

Starts the embedded deployment in a temporary directory, offloads the sample VM in
test/fixtures/sample-vm/ through the HTTP API, returns it, and checks it came back bit-identical.`,

  async run(args, o) {
    const { values, positionals } = parse('demo', args, HELP_OPTION);
    if (values.help) return printUsage(o, command);
    noPositionals('demo', positionals);
    const { runDemo } = await importFromSources<Demo>('infra/local/demo.ts');
    const result = await runDemo();
    return result.ok ? 0 : 1;
  },
};

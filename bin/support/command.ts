import type { Output } from './output';

/** A command module (bin/commands/<name>.ts): its --help text and what it does. */
export interface Command {
  usage: string;
  /** Runs with the arguments after the command's name; resolves with the exit code. */
  run(args: string[], o: Output): Promise<number>;
}

/** `--help`: the command's usage on stdout. */
export function printUsage(o: Output, command: Command): number {
  o.out(command.usage);
  return 0;
}

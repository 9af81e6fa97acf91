/** Runs `burstgate` in-process (bin/burstgate.ts main) and collects what it printed. */
import { main } from '../../bin/burstgate';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The CLI with `args` and `env`, output captured. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (s: string) => (stdout += s) },
    stderr: { write: (s: string) => (stderr += s) },
    env,
  });
  return { code, stdout, stderr };
}

/** The CLI against a running gateway (its URL and key), polling fast. */
export function cliAgainst(gateway: { apiUrl: string; apiKey: string }) {
  return (args: string[]): Promise<CliRun> =>
    runCli([...args, '--gateway', gateway.apiUrl, '--api-key', gateway.apiKey, '--interval', '0.02']);
}

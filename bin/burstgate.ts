#!/usr/bin/env -S npx tsx
/**
 * burstgate — the one CLI: the embedded gateway (`up`, `demo`), the on-prem client (`offload`,
 * `quote`, `budget`, `launch`, `schedule`, `status`, `list`, `lease`, `return`, `cancel`), disk images (`image`), API keys (`api-key`) and the jobs table (`table`). This file
 * only dispatches: each command is a module in bin/commands/, imported when it runs, so that
 * `--version` or `image info` load neither the embedded deployment nor any cloud SDK. The work is
 * in shared/client, shared/images and infra/local.
 *
 * `npm run build` bundles it to dist/burstgate.js (the package's bin); tests and `npm start` run
 * it from the sources through tsx.
 *
 * Exit codes: 0 done, 1 failed (a one-line reason on stderr), 2 usage error, 130 interrupted.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import type { Command } from './support/command';
import { UsageError } from './support/errors';
import { report } from './support/report';
import { Output, type Io } from './support/output';
import { packageVersion } from './support/package';

export type { Io } from './support/output';

interface CommandEntry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}

/** In the order `burstgate --help` lists them. */
const COMMANDS: Record<string, CommandEntry> = {
  up: {
    summary: 'start the embedded gateway on 127.0.0.1 (no cloud account needed)',
    load: () => import('./commands/up'),
  },
  demo: {
    summary: 'offload the sample VM to simulated AWS and bring it back (what `npm start` runs)',
    load: () => import('./commands/demo'),
  },
  offload: {
    summary: 'upload a VM image and run it in the cloud',
    load: () => import('./commands/offload'),
  },
  quote: {
    summary: 'what running a VM costs in which cloud and size, line by line (creates nothing)',
    load: () => import('./commands/quote'),
  },
  budget: {
    summary: "a tenant's monthly budget: show it, or set it (admin)",
    load: () => import('./commands/budget'),
  },
  launch: {
    summary: 'launch a staged VM now (one offloaded with --hold, or --launch-at before its time)',
    load: () => import('./commands/launch'),
  },
  schedule: {
    summary:
      'burst windows: recurring in a time zone, pre-staged, launched at the opening, home by the closing',
    load: () => import('./commands/schedule'),
  },
  status: {
    summary: "show a job's state, steps, resources and download",
    load: () => import('./commands/status'),
  },
  list: {
    summary: 'list jobs, newest first',
    load: () => import('./commands/list'),
  },
  lease: {
    summary: "show a job's lease, planned return and deadline; extend or change them",
    load: () => import('./commands/lease'),
  },
  return: {
    summary: 'bring a running VM home and write its image (a whole OVA, or a delta applied to the original)',
    load: () => import('./commands/return'),
  },
  image: {
    summary: 'inspect, convert and verify disk images (VMDK, VHD, VHDX, qcow2, raw, OVA)',
    load: () => import('./commands/image'),
  },
  'api-key': {
    summary: "create, list and revoke a deployed gateway's API keys (tenants, scopes; stored hashed)",
    load: () => import('./commands/api-key'),
  },
  table: {
    summary: "one-off work on a deployed gateway's jobs table (backfill the tenant index after an upgrade)",
    load: () => import('./commands/table'),
  },
  cancel: {
    summary: 'cancel a job and remove everything it created',
    load: () => import('./commands/cancel'),
  },
};

function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return `burstgate ${packageVersion()} — move a VMware VM into the cloud for a while, and bring it home

Usage: burstgate <command> [options]     (burstgate <command> --help for its options)

Commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  .join('\n')}

The client commands talk to the gateway at --gateway / $BURSTGATE_GATEWAY / .burstgate/api-url
with the key from --api-key / $BURSTGATE_API_KEY / .burstgate/api-key.`;
}

/** Runs the CLI with `argv` (the arguments after `burstgate`); resolves with the exit code. */
export async function main(
  argv: string[],
  io: Io = { stdout: process.stdout, stderr: process.stderr, env: process.env },
): Promise<number> {
  const o = new Output(io);
  const [name, ...rest] = argv;
  try {
    if (name === undefined) throw new UsageError(undefined, 'missing command');
    if (name === '--help' || name === '-h' || name === 'help') {
      const entry = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
      o.out(entry ? (await entry.load()).command.usage : mainHelp());
      return 0;
    }
    if (name === '--version' || name === '-v') {
      o.out(packageVersion());
      return 0;
    }
    const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
    if (!entry) throw new UsageError(undefined, `unknown command '${name}'`);
    const { command } = await entry.load();
    return await command.run(rest, o);
  } catch (e) {
    return report(o, e);
  }
}

/**
 * Run as a program: from the sources (`tsx bin/burstgate.ts`), or as the bundle through the bin
 * link that npm made (`npx burstgate`, a global install), whose path is a symlink to this file.
 * Never in a worker thread: an image conversion's workers may run the bundle's code again.
 */
function isEntryPoint(): boolean {
  const invoked = process.argv[1];
  if (!isMainThread || !invoked) return false;
  try {
    return realpathSync(invoked) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`burstgate: ${(e as Error)?.message ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

/**
 * The CLI as a user runs it: `npx tsx bin/burstgate.ts ...` in a child process, against a fake
 * gateway on 127.0.0.1 (or a closed port). Checks exit codes, one-line error messages without
 * stack traces, and the whole offload → return loop from the client's side.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedPort } from '../../helpers/http-server';
import { runCli } from '../../helpers/cli';
import { startFakeGateway, type FakeGateway, type FakeGatewayOptions } from '../../helpers/fake-gateway';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const SAMPLE = join(ROOT, 'test', 'fixtures', 'sample-vm', 'burstgate-sample.ova');
const KEY = 'cli-test-key';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The real thing: a child process, as a user runs it. */
function spawnCli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BURSTGATE_')));
  return new Promise((resolve, reject) => {
    const child = spawn('npx', ['tsx', 'bin/burstgate.ts', ...args], {
      cwd: ROOT,
      env: { ...clean, ...env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        // npm's own config warnings are not ours
        stderr: stderr
          .split('\n')
          .filter((l) => !l.startsWith('npm warn'))
          .join('\n'),
      }),
    );
  });
}

/** The same entry point in-process (main(argv, io)): fast enough to cover every case. */
const cli = (args: string[], env: Record<string, string> = {}): Promise<Run> => runCli(args, env);

const noStack = (r: Run): void => {
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toContain('node:internal');
};

/** `offload <image> --to aws [...extra] --gateway <url> --api-key <key>` */
const offloadArgs = (image: string, gateway: string, apiKey: string, ...extra: string[]): string[] => [
  'offload',
  image,
  '--to',
  'aws',
  ...extra,
  '--gateway',
  gateway,
  '--api-key',
  apiKey,
];

/** What the CLI says when the gateway at `url` answers 403 to the key. */
const rejectedKey = (url: string): string =>
  `burstgate: the API key was rejected by ${url} (403 Forbidden): check --api-key, BURSTGATE_API_KEY or .burstgate/api-key`;

/** Runs `fn` against a fresh fake gateway, closed afterwards whatever happens. */
async function withGateway(opts: FakeGatewayOptions, fn: (gw: FakeGateway) => Promise<void>): Promise<void> {
  const gw = await startFakeGateway(opts);
  try {
    await fn(gw);
  } finally {
    await gw.close();
  }
}

let dir: string;
let stateDir: string;
let emptyState: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bg-cli-'));
  stateDir = join(dir, 'state');
  emptyState = join(dir, 'empty-state');
  mkdirSync(stateDir);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('burstgate CLI: as a child process (npx tsx bin/burstgate.ts)', () => {
  it('exits 2 with a usage hint for bad arguments', async () => {
    const none = await spawnCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr.trim()).toBe('burstgate: missing command\nrun `burstgate --help` for usage');
    const noTarget = await spawnCli(['offload', 'vm.ova', '--bogus']);
    expect(noTarget.code).toBe(2);
    expect(noTarget.stderr.trim()).toBe(
      "burstgate offload: Unknown option '--bogus'\nrun `burstgate offload --help` for usage",
    );
  });

  it('exits 1 naming a missing image path, without a stack trace', async () => {
    const missing = join(dir, 'nope', 'vm.ova');
    const r = await spawnCli(offloadArgs(missing, 'http://127.0.0.1:9', KEY));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`burstgate: cannot offload ${missing}: no such file`);
  });

  it('exits 1 for an unreachable gateway and for a rejected key', async () => {
    const port = await closedPort();
    const down = await spawnCli(['list'], {
      BURSTGATE_GATEWAY: `http://127.0.0.1:${port}`,
      BURSTGATE_API_KEY: KEY,
    });
    expect(down.code).toBe(1);
    expect(down.stderr.trim()).toMatch(
      new RegExp(
        `^burstgate: cannot reach the gateway at http://127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED.*\\): is \`burstgate up\` running\\?`,
      ),
    );
    noStack(down);
    await withGateway({ apiKey: KEY }, async (gw) => {
      const bad = await spawnCli(offloadArgs(SAMPLE, gw.url, 'wrong'));
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toBe(rejectedKey(gw.url));
      expect(gw.jobs.size).toBe(0);
    });
  });
});

describe.concurrent('burstgate CLI: usage', () => {
  it('prints help for the CLI and for every command', async () => {
    const top = await cli(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['up', 'demo', 'offload', 'status', 'list', 'return', 'cancel']) {
      expect(top.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
    }
    const runs = await Promise.all(
      ['up', 'demo', 'offload', 'status', 'list', 'return', 'cancel'].map((c) => cli([c, '--help'])),
    );
    runs.forEach((r, i) => {
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(
        `Usage: burstgate ${['up', 'demo', 'offload', 'status', 'list', 'return', 'cancel'][i]}`,
      );
    });
  });

  it.each([
    [[], /^burstgate: missing command$/m],
    [['frobnicate'], /^burstgate: unknown command 'frobnicate'$/m],
    [['offload'], /^burstgate offload: missing the image file/m],
    [
      ['offload', 'vm.ova', '--cloud', 'gcp'],
      /^burstgate offload: --cloud must be one of aws, azure, not 'gcp'$/m,
    ],
    [['offload', 'vm.ova', '--cloud', 'azure', '--to', 'aws'], /--cloud azure and --to aws disagree/],
    [
      ['offload', 'vm.ova', '--cloud', 'azure', '--vm-size', 'Standard_D2s_v3'],
      /^burstgate offload: missing --location \(the Azure region\) for --cloud azure, e\.g\. --cloud azure --location westeurope --vm-size Standard_D2s_v3$/m,
    ],
    [
      ['offload', 'vm.ova', '--to', 'azure', '--location', 'westeurope'],
      /^burstgate offload: missing --vm-size \(the Azure VM size\) for --cloud azure, e\.g\. --cloud azure --location westeurope --vm-size Standard_D2s_v3$/m,
    ],
    [
      [
        'offload',
        'vm.ova',
        '--cloud',
        'azure',
        '--location',
        'westeurope',
        '--vm-size',
        'B2s',
        '--region',
        'eu-west-1',
      ],
      /--region is for --cloud aws; for azure use --location and --vm-size/,
    ],
    [
      ['offload', 'vm.ova', '--location', 'westeurope'],
      /--location is for --cloud azure; for aws use --region/,
    ],
    [
      ['offload', 'vm.ova', '--mode', 'fast'],
      /^burstgate offload: --mode must be one of direct, import, not 'fast'$/m,
    ],
    [
      [
        'offload',
        'vm.ova',
        '--cloud',
        'azure',
        '--location',
        'westeurope',
        '--vm-size',
        'B2s',
        '--mode',
        'direct',
      ],
      /--mode is for --cloud aws; for azure use --location and --vm-size/,
    ],
    [
      ['offload', 'vm.qcow2', '--to', 'aws'],
      /cannot tell the format of 'vm\.qcow2' from its extension.*pass --format/,
    ],
    [
      ['offload', 'vm.bin', '--to', 'aws', '--format', 'qcow2'],
      /--format must be one of ova, vmdk, vhd, vhdx, raw/,
    ],
    [['offload', 'a.ova', 'b.ova', '--to', 'aws'], /unexpected argument 'b\.ova'/],
    [['list', '--state', 'flying'], /--state must be one of awaiting-upload, .*cancelled, not 'flying'/],
    [['list', '--bogus'], /^burstgate list: Unknown option '--bogus'/m],
    [['status'], /^burstgate status: missing the job id/m],
    [['return', 'job-1'], /missing --out <file>: where to write the returned image/],
    [
      ['return', 'job-1', '--out', 'x.vhd', '--to', 'iso'],
      /--to must be one of ova, vmdk-stream, .*not 'iso'/,
    ],
    [['return', 'job-1', '--out', 'same.ova', '--base', 'same.ova'], /--out same\.ova is the --base image/],
    [['up', '--port', 'http'], /--port must be a port number/],
  ])('exits 2 for bad usage: %j', async (args, message) => {
    const r = await cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/run `burstgate( \w+)? --help` for usage/);
    noStack(r);
  });
});

describe.concurrent('burstgate CLI: expected failures are one line, exit 1', () => {
  it('names the image path that does not exist', async () => {
    const missing = join(dir, 'nope', 'vm.ova');
    const r = await cli(offloadArgs(missing, 'http://127.0.0.1:9', KEY));
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(`burstgate: cannot offload ${missing}: no such file`);
  });

  it('refuses a directory as image', async () => {
    const r = await cli(['offload', dir, '--to', 'aws', '--format', 'ova']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${dir} is a directory, not an image file`);
  });

  it('says how to configure a gateway when none is', async () => {
    const r = await cli(['list', '--state-dir', emptyState]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^burstgate: no gateway URL: pass --gateway URL, set BURSTGATE_GATEWAY, or start the embedded gateway with `burstgate up`/,
    );
    noStack(r);
  });

  it('says the gateway is unreachable, with the URL, and to run burstgate up', async () => {
    const port = await closedPort();
    const r = await cli(['list', '--gateway', `http://127.0.0.1:${port}`, '--api-key', KEY]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain(`burstgate: cannot reach the gateway at http://127.0.0.1:${port}`);
    expect(r.stderr).toContain('is `burstgate up` running?');
    noStack(r);
  });

  it('reports unreachable before uploading anything in offload', async () => {
    const port = await closedPort();
    const r = await cli(['offload', SAMPLE, '--to', 'aws'], {
      BURSTGATE_GATEWAY: `http://127.0.0.1:${port}`,
      BURSTGATE_API_KEY: KEY,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach the gateway at http://127.0.0.1:${port}`);
    noStack(r);
  });

  it('says the API key was rejected (403) or missing (401)', async () => {
    await withGateway({ apiKey: KEY }, async (gw) => {
      const bad = await cli(['list', '--gateway', gw.url, '--api-key', 'wrong-key']);
      expect(bad.code).toBe(1);
      expect(bad.stderr.trim()).toBe(rejectedKey(gw.url));
      const offload = await cli(offloadArgs(SAMPLE, gw.url, 'wrong-key'));
      expect(offload.code).toBe(1);
      expect(offload.stderr).toContain('the API key was rejected');
      expect(gw.jobs.size).toBe(0);
      noStack(offload);
    });
  });

  it("prints the gateway's problem detail", async () => {
    await withGateway({ apiKey: KEY }, async (gw) => {
      const r = await cli(['status', 'job-unknown', '--gateway', gw.url, '--api-key', KEY]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(
        "burstgate: No such job: No offload job with id 'job-unknown' exists; list jobs with GET /offloads.",
      );
    });
  });
});

describe('burstgate CLI: offload and return against a fake gateway', () => {
  let gw: FakeGateway;
  beforeAll(async () => {
    gw = await startFakeGateway({ apiKey: KEY, partSizeBytes: 64 * 1024, failPartsOnce: [2] });
    // the embedded deployment's files, as `burstgate up` writes them
    writeFileSync(join(stateDir, 'api-url'), `${gw.url}\n`);
    writeFileSync(join(stateDir, 'api-key'), `${KEY}\n`);
  });
  afterAll(() => gw.close());

  let jobId = '';
  const original = readFileSync(SAMPLE);

  it('offloads the sample VM: uploads in parts (retrying one), completes, follows until running', async () => {
    const r = await cli([
      'offload',
      SAMPLE,
      '--to',
      'aws',
      '--region',
      'eu-west-1',
      '--mode',
      'direct',
      '--interval',
      '0.02',
      '--state-dir',
      stateDir,
    ]);
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    jobId =
      /^(job-\d+): offloading burstgate-sample \(ova, 190\.0 KiB\) to aws eu-west-1 t3\.medium$/m.exec(
        r.stdout,
      )?.[1] ?? '';
    expect(jobId).not.toBe('');
    const job = gw.jobs.get(jobId)!;
    expect(job.view.target).toMatchObject({ cloud: 'aws', region: 'eu-west-1', mode: 'direct' });
    expect(job.image!.equals(original)).toBe(true); // 3 parts reassembled
    expect(gw.partAttempts.get(`${jobId}/2`)).toBe(2); // part 2 failed once and was sent again
    expect(job.view.image.sha256).toBe(createHash('sha256').update(original).digest('hex'));
    const states = [...r.stdout.matchAll(/^\d\d:\d\d:\d\d {2}(\S+)/gm)].map((m) => m[1]);
    expect(states).toEqual(['upload', 'inspecting', 'importing', 'launching', 'running']);
    expect(r.stdout).toMatch(/ok {3}launch +1\.0 s/);
    expect(r.stdout).toContain(
      `${jobId} is running in aws eu-west-1 t3.medium: instance i-0123456789, AMI ami-0abc`,
    );
    // a direct job comes back as a delta of the changed blocks: the hint names the offloaded image as --base
    expect(r.stdout).toContain(
      `bring it home with: burstgate return ${jobId} --base ${SAMPLE} --out burstgate-sample-returned.ova`,
    );
    expect(r.stderr).toMatch(/upload {2}190\.0 KiB in/); // the progress summary (stderr, not a TTY)
  });

  it('lists and shows the job', async () => {
    const list = await cli(['list', '--state', 'running', '--state-dir', stateDir]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      new RegExp(`^${jobId}  running  burstgate-sample  aws eu-west-1 t3\\.medium`, 'm'),
    );
    const status = await cli(['status', jobId, '--state-dir', stateDir]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`${jobId}  burstgate-sample  running`);
    expect(status.stdout).toMatch(
      /cloud +importTaskId import-ami-0123, amiId ami-0abc, instanceId i-0123456789/,
    );
    const json = await cli(['status', jobId, '--json', '--state-dir', stateDir]);
    expect((JSON.parse(json.stdout) as { state: string }).state).toBe('running');
  });

  it('returns it: follows until returned, downloads, verifies the SHA-256', async () => {
    const out = join(dir, 'back.ova');
    const r = await cli(['return', jobId, '--out', out, '--interval', '0.02', '--state-dir', stateDir]);
    expect(r.stderr).not.toContain('burstgate:');
    expect(r.code).toBe(0);
    expect(readFileSync(out).equals(original)).toBe(true);
    expect(existsSync(`${out}.part`)).toBe(false);
    const sha = createHash('sha256').update(original).digest('hex');
    expect(r.stdout).toContain(`returned image: ${out}`);
    expect(r.stdout).toContain(`sha256        ${sha} (verified)`);
    expect(r.stdout).toContain('identical to the disk that was offloaded');

    const again = await cli(['return', jobId, '--out', out, '--state-dir', stateDir]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toBe(`burstgate: ${out} already exists\nhint: pass --force to overwrite it`);
    // a re-run after the return finished just downloads again
    const forced = await cli(['return', jobId, '--out', out, '--force', '--state-dir', stateDir]);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`${jobId} is already returned`);
  });

  it("cancels it, after which a return is refused with the gateway's 409 problem", async () => {
    const c = await cli(['cancel', jobId, '--wait', '--interval', '0.02', '--state-dir', stateDir]);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(new RegExp(`${jobId}: cancelling`));
    expect(c.stdout).toMatch(/cancelled/);
    const again = await cli(['return', jobId, '--out', join(dir, 'y.ova'), '--state-dir', stateDir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(
      `burstgate: The job is not in a state that allows this: Cannot return job ${jobId}`,
    );
  });
});

describe.concurrent('burstgate CLI: jobs that go wrong', () => {
  it('exits 1 with the job error when the offload fails', async () => {
    await withGateway({ apiKey: KEY, failImport: true }, async (gw) => {
      const r = await cli(offloadArgs(SAMPLE, gw.url, KEY, '--no-hash', '--interval', '0.02'));
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/FAIL import +1\.0 s {2}ClientError: Unsupported kernel version/);
      expect(r.stderr).toContain('error: The cloud rejected the image (import-failed, during import)');
      expect(r.stderr).toContain('  ClientError: Unsupported kernel version');
      noStack(r);
    });
  });

  it('exits 1 naming what is left when the cancel gives up', async () => {
    await withGateway({ apiKey: KEY, cancelGivesUp: true }, async (gw) => {
      const opts = ['--gateway', gw.url, '--api-key', KEY];
      const off = await cli(['offload', SAMPLE, '--to', 'aws', '--interval', '0.02', ...opts]);
      expect(off.code).toBe(0);
      const id = [...gw.jobs.keys()][0]!;
      const r = await cli(['cancel', id, '--wait', '--interval', '0.02', ...opts]);
      expect(r.code).toBe(1);
      expect(r.stdout).toContain(`${id}: cancelling`);
      expect(r.stderr).toContain(
        'The cancel could not remove everything the job created (cleanup-incomplete',
      );
      expect(r.stderr).toContain('snapshot snap-0123 is in use');
      noStack(r);
    });
  });

  it('deletes the download and exits 1 when its SHA-256 does not match', async () => {
    await withGateway({ apiKey: KEY, corruptDownload: true }, async (gw) => {
      const opts = ['--gateway', gw.url, '--api-key', KEY];
      const off = await cli(['offload', SAMPLE, '--to', 'aws', '--interval', '0.02', ...opts]);
      expect(off.code).toBe(0);
      const id = [...gw.jobs.keys()][0]!;
      const out = join(dir, 'corrupt.ova');
      const r = await cli(['return', id, '--out', out, '--interval', '0.02', ...opts]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(
        /burstgate: the downloaded image's SHA-256 is [0-9a-f]{64}, not the [0-9a-f]{64} the gateway announced/,
      );
      expect(existsSync(out)).toBe(false);
      expect(existsSync(`${out}.part`)).toBe(false);
      noStack(r);
    });
  });

  it('stops after the upload with --no-follow', async () => {
    await withGateway({ apiKey: KEY }, async (gw) => {
      const r = await cli(offloadArgs(SAMPLE, gw.url, KEY, '--no-follow'));
      expect(r.code).toBe(0);
      const id = [...gw.jobs.keys()][0]!;
      expect(r.stdout).toContain(`follow it with: burstgate status ${id} --watch`);
      expect(gw.jobs.get(id)!.view.state).toBe('inspecting');
    });
  });
});

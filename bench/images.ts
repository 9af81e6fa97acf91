/**
 * `npm run bench:images` — ours vs `qemu-img convert`, as a user runs them, on the same files in the
 * same run. Ours is the built CLI: `npm run build`, then `node dist/burstgate.js image convert IN OUT
 * --to FMT`, one process per conversion, exactly what `burstgate image convert` runs. Rows:
 *   - VMDK-stream → VHD-fixed (decompression) on a 1 GiB random image and a 2 GiB sparse one (≈6 %
 *     data, random);
 *   - raw → VMDK-stream (compression) on the same two, on a 512 MiB log-like text image (where deflate
 *     really works; random grains are stored, see looksIncompressible), and on a 16 GiB sparse image
 *     (1 % data) for our peak RSS.
 * Floors (medians): VMDK-stream → VHD-fixed ≥ 1.0× qemu-img on 1 GiB random (aim 1.5×); raw →
 * VMDK-stream ≥ 3× on 1 GiB random and on 2 GiB sparse; our peak RSS ≤ 256 MiB on every row.
 *
 * Each row runs each tool N times (default 5), alternating ours and qemu-img and which of them goes
 * first in a round; before every run the output is removed and `sync` runs, so neither tool pays
 * for the other's dirty pages. The table gives the median, best and worst wall time of each tool,
 * the speed-up of the medians, and the peak RSS (GNU time's maximum resident set size of the
 * process, worker threads included). Both run in the caller's environment as it is: where it sets
 * NODE_EXTRA_CA_CERTS (these machines do), every Node process parses that certificate bundle at
 * start (~60 ms here), and that is part of what a user waits for.
 *
 * Options: --dir DIR (work files, default a temp dir removed after; in a given DIR the input images
 * are kept and reused by later runs), --runs N (default 5),
 * --skip-16g, --skip-text, --only vhd-fixed|vmdk-stream (the rows of one output format).
 */
import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const ROOT = resolve(fileURLToPath(import.meta.url), '../..');
const CLI = join(ROOT, 'dist/burstgate.js');
const GNU_TIME = '/usr/bin/time';
const RSS_LIMIT_MIB = 256;
const ENV = { ...process.env };

/** Deterministic incompressible bytes, fast: an AES-CTR key stream over a fixed key (seeded IV). */
function randomStream(seed: number) {
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(seed, 0);
  const cipher = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), iv);
  return (buf: Buffer) => {
    buf.fill(0);
    cipher.update(buf).copy(buf);
  };
}

/** Log-like text: what deflate compresses about 4:1, as OS and application files do. */
function fillText(buf: Buffer, seed: number): void {
  let x = seed >>> 0 || 1;
  const next = (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
  let off = 0;
  const verbs = ['GET', 'PUT', 'POST', 'DELETE'];
  while (off < buf.length) {
    const line = `2026-11-${10 + next(20)}T${next(24)}:${next(60)}:${next(60)}.${next(1000)}Z host-${next(64)} burstgate[${1000 + next(9000)}]: ${verbs[next(4)]} /offloads/${next(100000)} ${200 + next(5) * 100} ${next(5000)} ms\n`;
    off += buf.write(line, off, 'latin1');
  }
}

interface ImageSpec {
  name: string;
  file: string;
  size: number;
  /** Share of 4 MiB blocks holding data, spread evenly; the rest are holes. */
  fraction: number;
  kind: 'random' | 'text';
}

async function makeImage(img: ImageSpec): Promise<void> {
  if ((await stat(img.file).catch(() => undefined))?.size === img.size) return; // kept from a run before
  const fh = await open(img.file, 'w');
  try {
    await fh.truncate(img.size);
    const block = 4 * MiB;
    const buf = Buffer.alloc(block);
    const random = randomStream(1);
    const every = Math.max(1, Math.round(1 / img.fraction));
    for (let i = 0; i * block < img.size; i++) {
      if (i % every !== 0) continue;
      if (img.kind === 'random') random(buf);
      else fillText(buf, i + 1);
      await fh.write(buf, 0, Math.min(block, img.size - i * block), i * block);
    }
  } finally {
    await fh.close();
  }
}

interface Run {
  seconds: number;
  peakRssMiB?: number;
}

/** One command, timed from spawn to exit, with its peak RSS when GNU time is there. */
async function run(cmd: string, args: string[], rssFile: string): Promise<Run> {
  spawnSync('sync');
  const timed = existsSync(GNU_TIME);
  const t0 = process.hrtime.bigint();
  const r = timed
    ? spawnSync(GNU_TIME, ['-f', '%M', '-o', rssFile, cmd, ...args], {
        encoding: 'utf8',
        env: ENV,
        cwd: ROOT,
      })
    : spawnSync(cmd, args, { encoding: 'utf8', env: ENV, cwd: ROOT });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  if (!timed) return { seconds };
  // GNU time's %M is in KiB
  const kib = Number((await readFile(rssFile, 'utf8')).trim().split('\n').at(-1));
  return { seconds, ...(Number.isFinite(kib) ? { peakRssMiB: kib / 1024 } : {}) };
}

type Tool = 'ours' | 'qemu';
type Runs = Record<Tool, Run[]>;

interface Command {
  cmd: string;
  args: string[];
  /** Removed before each run. */
  output: string;
}

/** N runs of each tool, alternating, the first of each round alternating too. */
async function measure(runs: number, rssFile: string, commands: Record<Tool, Command>): Promise<Runs> {
  const result: Runs = { ours: [], qemu: [] };
  for (let i = 0; i < runs; i++) {
    const order: Tool[] = i % 2 === 0 ? ['ours', 'qemu'] : ['qemu', 'ours'];
    for (const tool of order) {
      const { cmd, args, output } = commands[tool];
      await rm(output, { force: true });
      result[tool].push(await run(cmd, args, rssFile));
    }
  }
  return result;
}

const seconds = (rs: Run[]) => rs.map((r) => r.seconds).sort((a, b) => a - b);
const median = (rs: Run[]) => {
  const s = seconds(rs);
  const m = s.length / 2;
  return s.length % 2 ? s[Math.floor(m)]! : (s[m - 1]! + s[m]!) / 2;
};
const peak = (rs: Run[]) => Math.max(...rs.map((r) => r.peakRssMiB ?? NaN));

interface Row {
  image: string;
  conversion: string;
  runs: Runs;
  /** Median speed-up that must hold, and the one aimed at. */
  floor?: number;
  aim?: number;
  identical: boolean;
  note?: string;
}

const fmt = (s: number) => s.toFixed(2);
const mib = (m: number) => (Number.isNaN(m) ? 'n/a' : `${m.toFixed(0)} MiB`);

function table(rows: Row[]): string {
  const header = [
    'image',
    'conversion',
    'qemu median s',
    'best',
    'worst',
    'ours median s',
    'best',
    'worst',
    'speed-up (medians)',
    'floor',
    'aim',
    'our peak RSS',
    'qemu peak RSS',
    'identical',
  ];
  const cells = rows.map((r) => {
    const q = seconds(r.runs.qemu);
    const o = seconds(r.runs.ours);
    const speedUp = median(r.runs.qemu) / median(r.runs.ours);
    const vs = (t: number | undefined) =>
      t === undefined ? '-' : `${t}× ${speedUp >= t ? 'met' : 'NOT met'}`;
    const rss = peak(r.runs.ours);
    return [
      r.image,
      r.conversion + (r.note ? ` (${r.note})` : ''),
      fmt(median(r.runs.qemu)),
      fmt(q[0]!),
      fmt(q.at(-1)!),
      fmt(median(r.runs.ours)),
      fmt(o[0]!),
      fmt(o.at(-1)!),
      `${speedUp.toFixed(2)}×`,
      vs(r.floor),
      vs(r.aim),
      `${mib(rss)}${Number.isNaN(rss) ? '' : rss <= RSS_LIMIT_MIB ? '' : ` > ${RSS_LIMIT_MIB}`}`,
      mib(peak(r.runs.qemu)),
      r.identical ? 'yes' : 'NO',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((x, i) => x.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: 'string' },
      runs: { type: 'string' },
      'skip-16g': { type: 'boolean' },
      'skip-text': { type: 'boolean' },
      only: { type: 'string' },
    },
  });
  const only = values.only;
  if (only !== undefined && only !== 'vhd-fixed' && only !== 'vmdk-stream') {
    throw new Error('--only takes vhd-fixed or vmdk-stream');
  }
  const qemuVersion = spawnSync('qemu-img', ['--version'], { encoding: 'utf8' });
  if (qemuVersion.status !== 0) throw new Error('qemu-img is needed (Debian: apt-get install qemu-utils)');
  const runs = Math.max(1, Number(values.runs ?? 5));
  const log = (line: string) => process.stderr.write(`${line}\n`);

  log('npm run build...');
  const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0 || !existsSync(CLI)) throw new Error(`npm run build failed: ${built.stderr}`);

  const dir = values.dir ?? (await mkdtemp(join(tmpdir(), 'bg-bench-')));
  const owned = values.dir === undefined;
  const rssFile = join(dir, 'rss.txt');
  const rows: Row[] = [];
  const ours = (input: string, output: string, to: string): Command => ({
    cmd: process.execPath,
    args: [CLI, 'image', 'convert', input, output, '--to', to],
    output,
  });
  const same = (out: string, format: 'vpc' | 'vmdk', raw: string) =>
    spawnSync('qemu-img', ['compare', '-q', '-f', format, '-F', 'raw', out, raw]).status === 0;
  try {
    log(
      `bench:images in ${dir} — ${qemuVersion.stdout.split('\n')[0]}, node ${process.version}, ${runs} run(s) of each tool per row`,
    );
    const images: ImageSpec[] = [
      { name: '1 GiB random', file: join(dir, 'random.raw'), size: GiB, fraction: 1, kind: 'random' },
      {
        name: '2 GiB sparse (6 %)',
        file: join(dir, 'sparse.raw'),
        size: 2 * GiB,
        fraction: 1 / 16,
        kind: 'random',
      },
      ...(values['skip-text']
        ? []
        : [
            {
              name: '512 MiB text',
              file: join(dir, 'text.raw'),
              size: 512 * MiB,
              fraction: 1,
              kind: 'text' as const,
            },
          ]),
      ...(values['skip-16g']
        ? []
        : [
            {
              name: '16 GiB sparse (1 %)',
              file: join(dir, 'big.raw'),
              size: 16 * GiB,
              fraction: 1 / 100,
              kind: 'random' as const,
            },
          ]),
    ];
    for (const img of images) {
      log(`making ${img.name}...`);
      await makeImage(img);
      // floors and aims are set on the rows the issue names; the others are shown as they are
      const small = img.kind === 'random' && img.size <= 2 * GiB;
      if (small && only !== 'vmdk-stream') {
        log('  VMDK-stream → VHD-fixed');
        const vmdk = `${img.file}.qemu.vmdk`;
        const toVmdk = ['-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', img.file, vmdk];
        if (!existsSync(vmdk)) spawnSync('qemu-img', ['convert', ...toVmdk]);
        const [oursOut, qemuOut] = [join(dir, 'ours.vhd'), join(dir, 'qemu.vhd')];
        const toVhd = ['-f', 'vmdk', '-O', 'vpc', '-o', 'subformat=fixed', vmdk, qemuOut];
        const r = await measure(runs, rssFile, {
          qemu: { cmd: 'qemu-img', args: ['convert', ...toVhd], output: qemuOut },
          ours: ours(vmdk, oursOut, 'vhd-fixed'),
        });
        rows.push({
          image: img.name,
          conversion: 'VMDK-stream → VHD-fixed',
          runs: r,
          ...(img.size === GiB ? { floor: 1 } : {}),
          aim: 1.5,
          identical: same(oursOut, 'vpc', img.file),
        });
        for (const f of [oursOut, qemuOut, ...(owned ? [vmdk] : [])]) await rm(f, { force: true });
      }
      if (only !== 'vhd-fixed') {
        log('  raw → VMDK-stream');
        const [oursOut, qemuOut] = [join(dir, 'ours.vmdk'), join(dir, 'qemu.vmdk')];
        const toVmdk = ['-f', 'raw', '-O', 'vmdk', '-o', 'subformat=streamOptimized', img.file, qemuOut];
        const r = await measure(runs, rssFile, {
          qemu: { cmd: 'qemu-img', args: ['convert', ...toVmdk], output: qemuOut },
          ours: ours(img.file, oursOut, 'vmdk-stream'),
        });
        const sizeMiB = async (f: string) => Math.round((await stat(f)).size / MiB);
        rows.push({
          image: img.name,
          conversion: 'raw → VMDK-stream',
          runs: r,
          ...(small ? { floor: 3 } : {}),
          identical: same(oursOut, 'vmdk', img.file),
          note: `qemu ${await sizeMiB(qemuOut)} / ours ${await sizeMiB(oursOut)} MiB`,
        });
        for (const f of [oursOut, qemuOut]) await rm(f, { force: true });
      }
      if (owned) await rm(img.file, { force: true });
    }
  } finally {
    if (owned) await rm(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${table(rows)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:images failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});

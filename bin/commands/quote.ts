/**
 * `burstgate quote vm.ova --hours 72 --aws us-east-1 --azure westeurope`: what running the VM
 * there costs, ranked, right-sized and line by line (POST /quotes). The VM is an OVA or OVF on this
 * machine (its descriptor is read, not its disks), a VM the gateway has offloaded (--vm-name), or a
 * profile given by flags.
 */
import { readOvfDescriptor } from '../../shared/client/ovf-descriptor';
import { columns } from '../../shared/client/render';
import type { Quote, QuoteRequest } from '../../shared/client/types';
import { GATEWAY_HELP, GATEWAY_OPTIONS, clientFrom, parse } from '../support/args';
import { printUsage, type Command } from '../support/command';
import { UsageError } from '../support/errors';
import type { Output } from '../support/output';
import { INSTANT_HELP, TZ_HELP, TZ_OPTION, timeFlags } from '../support/time-flags';

const GiB = 1024 ** 3;

export const command: Command = {
  usage: `Usage: burstgate quote <vm.ova|vm.ovf> | --vm-name NAME | --vcpus N --memory-gib M --disk-gib D --os linux|windows
                       (--hours H | --from T --until T | --schedule NAME) --aws REGION... --azure LOCATION... [options]

Quotes running the VM in each region for the hours given: the right-sized instance type or VM
size, the cheaper ones rejected and why, and every price line with its SKU or meter. Cheapest
first. Creates nothing.

VM (one of):
  <vm.ova|vm.ovf>      the image's OVF descriptor (the disks are not read)
  --vm-name NAME       a VM the gateway has offloaded (its OVF profile and uploaded bytes)
  --vcpus N --memory-gib M --disk-gib D [--allocated-gib A] --os linux|windows [--firmware bios|efi]
How long (one of):
  --hours H            hours in the cloud
  --from T --until T   a window
  --schedule NAME      a schedule's window length
Where (at least one):
  --aws REGION         an AWS region (repeat for more); both modes unless --mode
  --mode direct|import only this AWS mode
  --azure LOCATION     an Azure location (repeat for more)
Options:
  --headroom X         size for X times the vCPUs and memory (1 to 4)
  --family F           only this family (m7i, Dsv5)
  --change-rate R      share of the data that changes while away (0 to 1; default 0.1)
  --json               the gateway's answer as JSON
${TZ_HELP}
${INSTANT_HELP}
${GATEWAY_HELP}`,

  async run(args, o) {
    const { values, positionals } = parse('quote', args, {
      ...GATEWAY_OPTIONS,
      ...TZ_OPTION,
      'vm-name': { type: 'string' },
      vcpus: { type: 'string' },
      'memory-gib': { type: 'string' },
      'disk-gib': { type: 'string' },
      'allocated-gib': { type: 'string' },
      os: { type: 'string' },
      firmware: { type: 'string' },
      hours: { type: 'string' },
      from: { type: 'string' },
      until: { type: 'string' },
      schedule: { type: 'string' },
      aws: { type: 'string', multiple: true },
      mode: { type: 'string' },
      azure: { type: 'string', multiple: true },
      headroom: { type: 'string' },
      family: { type: 'string' },
      'change-rate': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) return printUsage(o, command);
    const usage = (m: string) => new UsageError('quote', m);
    const num = (flag: string, v: string | undefined): number | undefined => {
      if (v === undefined) return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw usage(`--${flag} must be a positive number, got ${v}`);
      return n;
    };

    const sources = [positionals.length > 0, values['vm-name'] !== undefined, values.vcpus !== undefined];
    if (positionals.length > 1) throw usage(`one image at a time, got ${positionals.join(', ')}`);
    if (sources.filter(Boolean).length !== 1) {
      throw usage('give the VM once: an image path, --vm-name, or --vcpus/--memory-gib/--disk-gib/--os');
    }
    let vm: QuoteRequest['vm'];
    if (positionals[0] !== undefined) {
      vm = await readOvfDescriptor(positionals[0]).catch((err: Error) => {
        throw usage(err.message);
      });
    } else if (values['vm-name'] !== undefined) {
      vm = { vmName: values['vm-name'] };
    } else {
      const os = values.os;
      if (os !== 'linux' && os !== 'windows') throw usage('--os must be linux or windows');
      const firmware = values.firmware ?? 'bios';
      if (firmware !== 'bios' && firmware !== 'efi') throw usage('--firmware must be bios or efi');
      const disk = num('disk-gib', values['disk-gib']);
      const memory = num('memory-gib', values['memory-gib']);
      const vcpus = num('vcpus', values.vcpus);
      if (disk === undefined || memory === undefined || vcpus === undefined) {
        throw usage('a profile needs --vcpus, --memory-gib and --disk-gib');
      }
      const allocated = num('allocated-gib', values['allocated-gib']);
      vm = {
        vCPUs: vcpus,
        memoryBytes: Math.round(memory * GiB),
        disks: [
          {
            capacityBytes: Math.round(disk * GiB),
            ...(allocated !== undefined ? { allocatedBytes: Math.round(allocated * GiB) } : {}),
          },
        ],
        osType: os,
        firmware,
      };
    }

    const spans = [
      values.hours !== undefined,
      values.from !== undefined || values.until !== undefined,
      values.schedule !== undefined,
    ];
    if (spans.filter(Boolean).length !== 1)
      throw usage('say how long once: --hours, --from/--until, or --schedule');
    const time = timeFlags('quote', o, values.tz);
    const span: Pick<QuoteRequest, 'hours' | 'window' | 'scheduleId'> =
      values.hours !== undefined
        ? { hours: num('hours', values.hours)! }
        : values.schedule !== undefined
          ? { scheduleId: values.schedule }
          : {
              window: {
                start: time.instant('--from', values.from ?? usageMissing('--from')).toISOString(),
                end: time.instant('--until', values.until ?? usageMissing('--until')).toISOString(),
              },
            };

    const mode = values.mode;
    if (mode !== undefined && mode !== 'direct' && mode !== 'import')
      throw usage('--mode must be direct or import');
    const modes: Array<'direct' | 'import'> | undefined = mode === undefined ? undefined : [mode];
    const clouds: QuoteRequest['clouds'] = [
      ...(values.aws?.length
        ? [{ cloud: 'aws' as const, regions: values.aws, ...(modes ? { modes } : {}) }]
        : []),
      ...(values.azure?.length ? [{ cloud: 'azure' as const, locations: values.azure }] : []),
    ];
    if (clouds.length === 0) throw usage('name at least one --aws region or --azure location');
    const headroom = num('headroom', values.headroom);
    const changeRate = values['change-rate'] === undefined ? undefined : Number(values['change-rate']);
    if (changeRate !== undefined && !(changeRate >= 0 && changeRate <= 1)) {
      throw usage(`--change-rate must be from 0 to 1, got ${values['change-rate']}`);
    }
    const options = {
      ...(headroom !== undefined ? { headroom } : {}),
      ...(values.family !== undefined ? { family: values.family } : {}),
      ...(changeRate !== undefined ? { changeRate } : {}),
    };

    const client = await clientFrom(o, values);
    const quote = await client.createQuote({
      vm,
      ...span,
      clouds,
      ...(Object.keys(options).length ? { options } : {}),
    });
    if (values.json) {
      o.out(JSON.stringify(quote, null, 2));
      return 0;
    }
    printQuote(o, quote);
    return 0;

    function usageMissing(flag: string): never {
      throw usage(`${flag} is needed with ${flag === '--from' ? '--until' : '--from'}`);
    }
  },
};

const usd = (n: number) => n.toFixed(n < 1 ? 4 : 2);
const targetText = (t: Quote['options'][number]['target']) =>
  t.cloud === 'aws' ? `aws ${t.region} ${t.mode}` : `azure ${t.region}`;

function printQuote(o: Output, q: Quote): void {
  o.out(
    `Quote for ${q.hours} h of ${q.vm.vCPUs} vCPUs, ${(q.vm.memoryBytes / GiB).toFixed(1)} GiB, ${q.vm.os} (${q.vm.basis})`,
  );
  o.out(`Prices as of ${q.pricesFetchedAt ?? q.quotedAt}; USD; free tiers not subtracted`);
  o.out('');
  const rows = q.options.map((opt, i) => [
    String(i + 1),
    targetText(opt.target),
    opt.size,
    usd(opt.total),
    `${Math.round(opt.secondsToRunning / 60)} min`,
  ]);
  for (const l of columns(['#', 'target', 'size', 'total', 'to running'], rows)) o.out(l);
  for (const [i, opt] of q.options.entries()) {
    o.out('');
    o.out(`${i + 1}. ${targetText(opt.target)}: ${opt.rightSizing.reason}`);
    for (const r of opt.rightSizing.rejected) {
      o.out(
        `   not ${r.name}${r.hourlyPrice !== undefined ? ` (${r.hourlyPrice}/h)` : ''}: ${r.reasons.join('; ')}`,
      );
    }
    const lines = columns(
      ['line', 'quantity', 'unit', 'unit price', 'amount', 'source'],
      opt.lines.map((l) => [
        l.item,
        String(Number(l.quantity.toPrecision(6))),
        l.unit,
        String(l.unitPrice),
        usd(l.amount),
        `${l.source.sku} (${l.source.effectiveDate.slice(0, 10)})`,
      ]),
      '   ',
    );
    for (const l of lines) o.out(l);
  }
  for (const u of q.unavailable) o.out(`\nnot quoted: ${targetText(u.target)}: ${u.code}: ${u.detail}`);
}

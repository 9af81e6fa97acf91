/**
 * Schedules as the CLI shows them: `burstgate schedule show` (the rule, the VMs, the next windows
 * and the history), `schedule list` (one line each) and `schedule preview`. Every time shows in UTC
 * and in the schedule's own zone, the one its cron expression is read in.
 */
import { durationSeconds } from '../schedules/iso-duration';
import { targetText } from './render';
import { UTC, formatInstant, formatSpan, relativeTo, zoneNamed, type Zone } from './times';
import type { SchedulePreview, ScheduleView, WindowView } from './types';

/** The schedule's zone (UTC should the client's Intl not know it). */
export function scheduleZone(view: Pick<ScheduleView, 'window'>): Zone {
  try {
    return zoneNamed(view.window.timeZone);
  } catch {
    return UTC;
  }
}

/** `PT60H` as `2d 12h`; what is not such a duration as is. */
function span(iso: string): string {
  const seconds = durationSeconds(iso);
  return seconds === undefined ? iso : formatSpan(seconds);
}

/** `cron(0 18 ? * 6 *) in Europe/Berlin, open 2d 12h (elapsed)`, `once at ..., open ...`. */
export function ruleText(view: ScheduleView, zone = scheduleZone(view)): string {
  const w = view.window;
  const when = 'cron' in w ? `${w.cron} in ${w.timeZone}` : `once at ${formatInstant(w.at, zone)}`;
  const open =
    view.duration !== undefined
      ? `, open ${span(view.duration)} (elapsed time)`
      : view.closesAfter !== undefined
        ? `, open ${span(view.closesAfter)} of wall-clock time in ${w.timeZone}`
        : '';
  return `${when}${open}`;
}

/** One window: its opening, then its closing and when its prestage opens. */
export function windowLines(w: WindowView, zone: Zone, now: Date): string[] {
  return [
    `${formatInstant(w.opensAt, zone)}, ${relativeTo(new Date(w.opensAt), now)}`,
    `  closes   ${formatInstant(w.closesAt, zone)}`,
    `  prestage ${formatInstant(w.prestageAt, zone)}; staged by ${formatInstant(w.stageBy, zone)}`,
  ];
}

/** The whole `burstgate schedule show` view. */
export function renderSchedule(view: ScheduleView, now = new Date()): string {
  const zone = scheduleZone(view);
  const lines: string[] = [`${view.scheduleId}  ${view.name}  ${view.state}`];
  const kv = (k: string, v: string): void => void lines.push(`  ${k.padEnd(10)} ${v}`);
  kv('window', ruleText(view, zone));
  kv(
    'prestage',
    `${span(view.prestage.lead)} before the opening; staged ${span(view.prestage.margin)} before it, or window-at-risk`,
  );
  kv('on missed', view.onMissed === 'open-late' ? 'open late (launch at once)' : 'skip the window');
  for (const vm of view.vms) {
    kv(
      'vm',
      `${vm.vmName} → ${targetText(vm)}, ${vm.source === 'upload' ? 'uploaded before each window' : 'from the image cache'}`,
    );
  }
  if (view.callbackUrl) kv('callback', view.callbackUrl);
  if (view.next.length) {
    lines.push('  next');
    for (const w of view.next) lines.push(...windowLines(w, zone, now).map((l) => `    ${l}`));
  } else {
    kv('next', view.state === 'paused' ? 'none while paused (burstgate schedule resume)' : 'no window ahead');
  }
  if (view.occurrences.length) {
    lines.push('  history (newest first)');
    for (const o of view.occurrences) {
      const late = o.lateBySeconds ? `, ${formatSpan(o.lateBySeconds)} late` : '';
      lines.push(`    ${formatInstant(o.opensAt, zone)}  ${o.status}${late}`);
      for (const j of o.jobs) lines.push(`      ${j.vmName}  ${j.jobId}`);
      if (o.atRisk?.length)
        lines.push(`      at risk: ${o.atRisk.join(', ')} (not staged by ${formatInstant(o.stageBy, zone)})`);
    }
  }
  return lines.join('\n');
}

/** One line per schedule for `burstgate schedule list`. */
export function renderScheduleTable(views: ScheduleView[], now = new Date()): string {
  if (views.length === 0) return 'no schedules (burstgate schedule create --help)';
  const width = Math.max(4, ...views.map((v) => v.name.length));
  return views
    .map((v) => {
      const next = v.next[0];
      const when = next
        ? `next ${formatInstant(next.opensAt, scheduleZone(v))}, ${relativeTo(new Date(next.opensAt), now)}`
        : v.state === 'paused'
          ? 'paused'
          : 'no window ahead';
      const vms = v.vms.map((vm) => vm.vmName).join(',');
      return `${v.scheduleId}  ${v.name.padEnd(width)}  ${v.state.padEnd(6)}  ${vms}  ${when}`;
    })
    .join('\n');
}

/** `burstgate schedule preview`: the openings (and closings, given a length) in UTC and the zone. */
export function renderPreview(preview: SchedulePreview): string {
  const zone = scheduleZone({ window: { cron: preview.expression, timeZone: preview.timeZone } });
  const lines = [`${preview.expression} in ${preview.timeZone}:`];
  for (const w of preview.windows) {
    const closes = w.closesAt ? ` → ${formatInstant(w.closesAt, zone)}` : '';
    lines.push(`  ${formatInstant(w.opensAt, zone)}${closes}`);
  }
  return lines.join('\n');
}

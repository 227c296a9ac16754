// Off-peak window maths in an IANA time zone, with Intl only (no date library).
//
// A window is a daily local-time range `start`–`end` ("HH:MM"); `end` before `start` crosses midnight;
// `days` (all when absent) are the local weekdays the window *starts* on. Wall times are turned into
// instants with the "compatible" disambiguation that Temporal and RFC 5545 use: a wall time that a
// spring-forward transition skips (02:30 in Berlin on the last Sunday of March) moves forward by the
// gap (03:30 CEST); a wall time that a fall-back transition repeats resolves to its first, earlier
// occurrence. On transition days a window is therefore an hour shorter or longer in real time.

/** Local weekdays, in the policy's spelling. Index = JavaScript's `getUTCDay()` of the civil date. */
const WEEKDAY_BY_INDEX = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"] as const;
export type OffPeakWeekday = (typeof WEEKDAY_BY_INDEX)[number];

/** Structural twin of the policy's `batch.offPeak` (shared/src/policy): a zone and daily windows. */
export type OffPeakWindowSpec = {
  readonly start: string;
  readonly end: string;
  readonly days?: readonly OffPeakWeekday[] | undefined;
};
export type OffPeakSpec = { readonly timeZone: string; readonly windows: readonly OffPeakWindowSpec[] };

/** An instant at which a window opens, and when it closes. */
export type WindowInstant = { startMs: number; endMs: number };

const MS_PER_DAY = 86_400_000;
/** Days scanned forward for the next window: a week covers every weekday set, plus slack for DST days. */
const SEARCH_DAYS = 8;

type Civil = { year: number; month: number; day: number };
type WallClock = Civil & { hour: number; minute: number };

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** The wall clock in `timeZone` at `instantMs`, as if it were UTC milliseconds (seconds kept, ms dropped). */
function wallMsAt(instantMs: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const p of formatterFor(timeZone).formatToParts(new Date(instantMs))) {
    if (p.type !== "literal") parts[p.type] = Number(p.value);
  }
  return Date.UTC(
    parts["year"] ?? 1970,
    (parts["month"] ?? 1) - 1,
    parts["day"] ?? 1,
    parts["hour"] ?? 0,
    parts["minute"] ?? 0,
    parts["second"] ?? 0,
  );
}

/** UTC offset of `timeZone` at `instantMs` (local − UTC), in ms. */
export function zoneOffsetMs(instantMs: number, timeZone: string): number {
  const wholeSecond = Math.floor(instantMs / 1000) * 1000;
  return wallMsAt(wholeSecond, timeZone) - wholeSecond;
}

/** The local civil date in `timeZone` at `instantMs`. */
function civilDateAt(instantMs: number, timeZone: string): Civil {
  const d = new Date(wallMsAt(instantMs, timeZone));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function addDays(c: Civil, days: number): Civil {
  const d = new Date(Date.UTC(c.year, c.month - 1, c.day) + days * MS_PER_DAY);
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function weekdayOf(c: Civil): OffPeakWeekday {
  return WEEKDAY_BY_INDEX[new Date(Date.UTC(c.year, c.month - 1, c.day)).getUTCDay()] ?? "sun";
}

/**
 * The instant of a local wall time in `timeZone` ("compatible" disambiguation: a skipped time moves
 * forward by the gap, a repeated time takes its earlier occurrence).
 */
export function zonedTimeToInstant(wall: WallClock, timeZone: string): number {
  const wallMs = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute);
  // Offsets a day either side bracket any single transition near this wall time.
  const before = zoneOffsetMs(wallMs - MS_PER_DAY, timeZone);
  const after = zoneOffsetMs(wallMs + MS_PER_DAY, timeZone);
  const valid = [...new Set([before, after])]
    .map((offset) => wallMs - offset)
    .filter((instant) => zoneOffsetMs(instant, timeZone) === wallMs - instant)
    .sort((a, b) => a - b);
  // In a gap no offset fits; the pre-transition offset lands the same distance past the gap.
  return valid[0] ?? wallMs - before;
}

function parseHhmm(hhmm: string): { hour: number; minute: number } {
  const m = /^(\d{2}):(\d{2})$/.exec(hhmm);
  const hour = Number(m?.[1]);
  const minute = Number(m?.[2]);
  if (m === null || hour > 23 || minute > 59)
    throw new RangeError(`not an "HH:MM" time: ${JSON.stringify(hhmm)}`);
  return { hour, minute };
}

/** The window that opens on local date `date`, or undefined when its weekday is excluded or DST empties it. */
function windowOn(date: Civil, w: OffPeakWindowSpec, timeZone: string): WindowInstant | undefined {
  if (w.days !== undefined && !w.days.includes(weekdayOf(date))) return undefined;
  const s = parseHhmm(w.start);
  const e = parseHhmm(w.end);
  const crossesMidnight = e.hour * 60 + e.minute <= s.hour * 60 + s.minute;
  const endDate = crossesMidnight ? addDays(date, 1) : date;
  const startMs = zonedTimeToInstant({ ...date, ...s }, timeZone);
  const endMs = zonedTimeToInstant({ ...endDate, ...e }, timeZone);
  return endMs > startMs ? { startMs, endMs } : undefined;
}

/** Windows opening on local dates from `fromDays` to `toDays` around `nowMs`'s local date, sorted by start. */
function windowsAround(nowMs: number, spec: OffPeakSpec, fromDays: number, toDays: number): WindowInstant[] {
  const today = civilDateAt(nowMs, spec.timeZone);
  const out: WindowInstant[] = [];
  for (let d = fromDays; d <= toDays; d++) {
    const date = addDays(today, d);
    for (const w of spec.windows) {
      const inst = windowOn(date, w, spec.timeZone);
      if (inst !== undefined) out.push(inst);
    }
  }
  return out.sort((a, b) => a.startMs - b.startMs);
}

/** The window containing `now` (start inclusive, end exclusive), or undefined. */
export function currentWindow(now: Date, spec: OffPeakSpec): WindowInstant | undefined {
  const t = now.getTime();
  // A window that crosses midnight may have opened yesterday.
  return windowsAround(t, spec, -1, 0).find((w) => w.startMs <= t && t < w.endMs);
}

/** True when `now` falls inside an off-peak window. No windows means there is no peak: always true. */
export function isOffPeak(now: Date, spec: OffPeakSpec): boolean {
  return spec.windows.length === 0 || currentWindow(now, spec) !== undefined;
}

/** The first window start strictly after `now`, or undefined when the policy declares no windows. */
export function nextWindowStart(now: Date, spec: OffPeakSpec): Date | undefined {
  const t = now.getTime();
  const next = windowsAround(t, spec, 0, SEARCH_DAYS).find((w) => w.startMs > t);
  return next === undefined ? undefined : new Date(next.startMs);
}

/** How long deferred work waits from `now`: 0 inside a window (or with no windows), else until the next start. */
export function offPeakDelayMs(now: Date, spec: OffPeakSpec): number {
  if (isOffPeak(now, spec)) return 0;
  const next = nextWindowStart(now, spec);
  return next === undefined ? 0 : next.getTime() - now.getTime();
}

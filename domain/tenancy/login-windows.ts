import { DomainError } from '../shared/errors.js';

// Project access control ("login windows", reference/002 "Access Control"): members may log
// in to a project only inside its allowed periods, or never inside its prohibited ones.
// Periods are wall-clock times on days of the week in the project's time zone (an IANA name,
// evaluated with Intl, so DST moves them with the local clock). A period whose end is not
// after its start runs past midnight into the next day; `24:00` ends at midnight.
//
// "If the time period you set is earlier than or includes the current platform time, the
// access control policy takes effect in the next time period": a change never takes effect
// in the middle of a period. The new windows take effect at the first start of one of their
// periods that is after the change and after the end of the period of the old windows that
// was under way at the change (so a change cuts neither an old nor a new period); until then
// the old windows (or none) stay in force. Removing the windows takes effect at once: it
// only lifts restrictions. The moment is computed when the change is decided and recorded in
// its event, so replays never depend on the time-zone data of the day.

export const weekdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
export type Weekday = (typeof weekdays)[number];

export interface LoginPeriod {
  /** Days on which the period starts. */
  days: Weekday[];
  /** `HH:MM`, 00:00–23:59. */
  start: string;
  /** `HH:MM`, 00:00–24:00; not after `start`: the period ends on the next day. */
  end: string;
}

export interface LoginWindows {
  mode: 'Allowed' | 'Prohibited';
  /** IANA time zone name, e.g. `Europe/Berlin`. */
  timeZone: string;
  periods: LoginPeriod[];
}

/** What a project holds: the windows before and from `effectiveFrom` (epoch ms). */
export interface LoginWindowsState {
  previous: LoginWindows | null;
  current: LoginWindows | null;
  effectiveFrom: number;
}

export const noLoginWindows: LoginWindowsState = { previous: null, current: null, effectiveFrom: 0 };

const minute = 60_000;
const day = 24 * 60 * minute;

// ---- time-zone arithmetic (Intl only) ----

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterOf(timeZone);
    return true;
  } catch {
    return false;
  }
}

interface LocalTime { year: number; month: number; day: number; hour: number; minute: number; second: number }

function localTime(instant: number, timeZone: string): LocalTime {
  const parts: Record<string, number> = {};
  for (const part of formatterOf(timeZone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return { year: parts.year!, month: parts.month!, day: parts.day!, hour: parts.hour! % 24, minute: parts.minute!, second: parts.second! };
}

/** Local wall time minus UTC at `instant`, in ms. */
function offsetAt(instant: number, timeZone: string): number {
  const whole = Math.floor(instant / 1000) * 1000;
  const local = localTime(whole, timeZone);
  return Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute, local.second) - whole;
}

/**
 * The instant of a local wall time (given as a date and minutes since its midnight). As
 * Temporal's "compatible": a time repeated by a DST fall-back is its first occurrence; a
 * time skipped by a spring-forward is moved forward by the gap (02:30 → 03:30).
 */
export function zonedInstant(date: { year: number; month: number; day: number }, minutes: number, timeZone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  const before = offsetAt(wall - day, timeZone);
  const after = offsetAt(wall + day, timeZone);
  const candidates = [wall - before, wall - after].filter((instant) => instant + offsetAt(instant, timeZone) === wall);
  if (candidates.length > 0) return Math.min(...candidates);
  return wall - before;
}

function addDays(date: { year: number; month: number; day: number }, days: number) {
  const moved = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: moved.getUTCFullYear(), month: moved.getUTCMonth() + 1, day: moved.getUTCDate() };
}

const weekdayOf = (date: { year: number; month: number; day: number }): Weekday => weekdays[(new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay() + 6) % 7]!;

const minutesOf = (time: string) => Number(time.slice(0, 2)) * 60 + Number(time.slice(3, 5));

interface Occurrence { start: number; end: number }

/** Occurrences of the windows' periods that start on local days `from`..`to` days from `instant`'s local day. */
function occurrences(windows: LoginWindows, instant: number, from: number, to: number): Occurrence[] {
  const today = localTime(instant, windows.timeZone);
  const found: Occurrence[] = [];
  for (let offset = from; offset <= to; offset += 1) {
    const date = addDays(today, offset);
    const weekday = weekdayOf(date);
    for (const period of windows.periods) {
      if (!period.days.includes(weekday)) continue;
      const startMinutes = minutesOf(period.start);
      const endMinutes = minutesOf(period.end);
      const start = zonedInstant(date, startMinutes, windows.timeZone);
      const end = endMinutes > startMinutes ? zonedInstant(date, endMinutes, windows.timeZone) : zonedInstant(addDays(date, 1), endMinutes, windows.timeZone);
      found.push({ start, end });
    }
  }
  return found;
}

/** The periods under way at `instant` (a period lasts at most a day: it started today or yesterday). */
function occurrencesAt(windows: LoginWindows, instant: number): Occurrence[] {
  return occurrences(windows, instant, -1, 0).filter((occurrence) => occurrence.start <= instant && instant < occurrence.end);
}

/** When the periods under way at `instant` (and those they run into) are over; `instant` if none is. */
export function endOfPeriodsAt(windows: LoginWindows, instant: number): number {
  let end = instant;
  for (let guard = 0; guard < 64; guard += 1) {
    const next = Math.max(end, ...occurrencesAt(windows, end).map((occurrence) => occurrence.end));
    if (next === end) return end;
    end = next;
  }
  return end;
}

/** The first start of a period strictly after `after` (there is one within eight days). */
export function nextPeriodStart(windows: LoginWindows, after: number): number {
  const starts = occurrences(windows, after, -1, 8).map((occurrence) => occurrence.start).filter((start) => start > after);
  return Math.min(...starts);
}

/** Whether `windows` let a member log in at `instant`. */
export function windowsAllow(windows: LoginWindows | null, instant: number): boolean {
  if (!windows) return true;
  const inside = occurrencesAt(windows, instant).length > 0;
  return windows.mode === 'Allowed' ? inside : !inside;
}

export const windowsInForce = (state: LoginWindowsState, instant: number): LoginWindows | null => (instant >= state.effectiveFrom ? state.current : state.previous);

export type LoginWindowVerdict =
  | { allowed: true }
  | { allowed: false; mode: LoginWindows['mode']; timeZone: string; /** When a login is possible again (epoch ms). */ opensAt: number };

export function loginWindowVerdict(state: LoginWindowsState, instant: number): LoginWindowVerdict {
  const windows = windowsInForce(state, instant);
  if (!windows || windowsAllow(windows, instant)) return { allowed: true };
  // Pending windows that begin before then may open earlier or later: give the plain answer of the windows in force.
  const opensAt = windows.mode === 'Allowed' ? nextPeriodStart(windows, instant) : endOfPeriodsAt(windows, instant);
  return { allowed: false, mode: windows.mode, timeZone: windows.timeZone, opensAt };
}

/** The state after setting `next` (null: no windows) at `now`. */
export function changeLoginWindows(state: LoginWindowsState, next: LoginWindows | null, now: number): LoginWindowsState {
  const inForce = windowsInForce(state, now);
  if (next === null) return { previous: inForce, current: null, effectiveFrom: now };
  const oldPeriodEnd = inForce ? endOfPeriodsAt(inForce, now) : now;
  // A new period starting right at the end of the old one may begin then; one under way at `now` waits for its next turn.
  const effectiveFrom = oldPeriodEnd > now ? nextPeriodStart(next, oldPeriodEnd - 1) : nextPeriodStart(next, now);
  return { previous: inForce, current: next, effectiveFrom };
}

// ---- validation ----

const startPattern = /^([01]\d|2[0-3]):[0-5]\d$/;
const endPattern = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;

/** Refuses (INVALID_LOGIN_WINDOWS, listing each bad field) windows that cannot be evaluated. */
export function validLoginWindows(windows: LoginWindows): LoginWindows {
  const problems: Array<{ field: string; message: string }> = [];
  if (windows.mode !== 'Allowed' && windows.mode !== 'Prohibited') problems.push({ field: 'mode', message: 'must be Allowed or Prohibited' });
  if (!isValidTimeZone(windows.timeZone)) problems.push({ field: 'timeZone', message: `${windows.timeZone} is not an IANA time zone` });
  if (windows.periods.length === 0) problems.push({ field: 'periods', message: 'at least one period' });
  windows.periods.forEach((period, index) => {
    const field = `periods[${index}]`;
    if (period.days.length === 0) problems.push({ field: `${field}.days`, message: 'at least one day' });
    for (const weekday of period.days) if (!(weekdays as readonly string[]).includes(weekday)) problems.push({ field: `${field}.days`, message: `${weekday} is not one of ${weekdays.join(', ')}` });
    if (new Set(period.days).size !== period.days.length) problems.push({ field: `${field}.days`, message: 'a day is named twice' });
    if (!startPattern.test(period.start)) problems.push({ field: `${field}.start`, message: 'must be HH:MM, 00:00–23:59' });
    if (!endPattern.test(period.end)) problems.push({ field: `${field}.end`, message: 'must be HH:MM, 00:00–24:00' });
    else if (period.start === period.end) problems.push({ field: `${field}.end`, message: 'must differ from start (00:00–24:00 is a whole day)' });
  });
  if (problems.length > 0) {
    throw new DomainError('INVALID_LOGIN_WINDOWS', problems.map((problem) => `${problem.field} ${problem.message}`).join('; '), 'invalid', { fields: problems });
  }
  return { mode: windows.mode, timeZone: windows.timeZone, periods: windows.periods.map((period) => ({ days: [...period.days], start: period.start, end: period.end })) };
}

export function loginWindowClosedError(projectName: string, verdict: Extract<LoginWindowVerdict, { allowed: false }>): DomainError {
  const opens = new Date(verdict.opensAt).toISOString();
  const why = verdict.mode === 'Allowed' ? 'outside its login allowed time' : 'inside its login prohibited time';
  return new DomainError('LOGIN_WINDOW_CLOSED', `project ${projectName} cannot be logged in to now: ${why} (${verdict.timeZone}); next possible at ${opens}`, 'forbidden', {
    mode: verdict.mode, timeZone: verdict.timeZone, opensAt: opens,
  });
}

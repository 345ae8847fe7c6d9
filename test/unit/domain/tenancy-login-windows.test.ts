import { describe, expect, it } from 'vitest';
import {
  changeLoginWindows, endOfPeriodsAt, loginWindowVerdict, nextPeriodStart, noLoginWindows, validLoginWindows, windowsAllow, zonedInstant,
  type LoginWindows, type LoginWindowsState,
} from '../../../domain/tenancy/login-windows.js';

const at = (iso: string) => Date.parse(iso);
const workdays = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'] as const;
const everyDay = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;

const windows = (mode: LoginWindows['mode'], timeZone: string, ...periods: Array<[readonly string[], string, string]>): LoginWindows => ({
  mode, timeZone, periods: periods.map(([days, start, end]) => ({ days: [...days] as LoginWindows['periods'][number]['days'], start, end })),
});
const inForce = (w: LoginWindows | null): LoginWindowsState => ({ previous: null, current: w, effectiveFrom: 0 });
const allowedAt = (state: LoginWindowsState, iso: string) => loginWindowVerdict(state, at(iso)).allowed;

describe('wall time in a time zone (Intl only)', () => {
  it('turns local times into instants, offsets of whole and half hours', () => {
    expect(zonedInstant({ year: 2026, month: 6, day: 1 }, 9 * 60, 'Europe/Berlin')).toBe(at('2026-06-01T07:00:00Z'));
    expect(zonedInstant({ year: 2026, month: 12, day: 1 }, 9 * 60, 'Europe/Berlin')).toBe(at('2026-12-01T08:00:00Z'));
    expect(zonedInstant({ year: 2026, month: 1, day: 15 }, 9 * 60 + 30, 'Asia/Kolkata')).toBe(at('2026-01-15T04:00:00Z'));
    expect(zonedInstant({ year: 2026, month: 1, day: 15 }, 0, 'UTC')).toBe(at('2026-01-15T00:00:00Z'));
    expect(zonedInstant({ year: 2026, month: 1, day: 15 }, 24 * 60, 'America/New_York')).toBe(at('2026-01-16T05:00:00Z'));
  });

  it('moves a time skipped by spring-forward ahead by the gap, and takes the first of a time repeated by fall-back', () => {
    // Europe/Berlin 2026-03-29: 02:00 CET → 03:00 CEST; 02:30 does not exist → 03:30 CEST.
    expect(zonedInstant({ year: 2026, month: 3, day: 29 }, 2 * 60 + 30, 'Europe/Berlin')).toBe(at('2026-03-29T01:30:00Z'));
    // Europe/Berlin 2026-10-25: 03:00 CEST → 02:00 CET; 02:30 happens twice → the CEST one.
    expect(zonedInstant({ year: 2026, month: 10, day: 25 }, 2 * 60 + 30, 'Europe/Berlin')).toBe(at('2026-10-25T00:30:00Z'));
    // America/New_York 2026-11-01: 01:30 happens twice → EDT.
    expect(zonedInstant({ year: 2026, month: 11, day: 1 }, 90, 'America/New_York')).toBe(at('2026-11-01T05:30:00Z'));
  });
});

describe('allowed and prohibited periods', () => {
  const office = windows('Allowed', 'Europe/Berlin', [workdays, '09:00', '17:00']);

  it('allowed periods: inside on their days only; the start counts, the end does not', () => {
    // 2026-11-23 is a Monday; Berlin is UTC+1 in November.
    expect(windowsAllow(office, at('2026-11-23T08:00:00Z'))).toBe(true);
    expect(windowsAllow(office, at('2026-11-23T07:59:59Z'))).toBe(false);
    expect(windowsAllow(office, at('2026-11-23T15:59:59Z'))).toBe(true);
    expect(windowsAllow(office, at('2026-11-23T16:00:00Z'))).toBe(false);
    expect(windowsAllow(office, at('2026-11-28T10:00:00Z'))).toBe(false); // Saturday
    expect(windowsAllow(null, at('2026-11-28T10:00:00Z'))).toBe(true);
  });

  it('prohibited periods: refused inside, allowed outside', () => {
    const lunch = windows('Prohibited', 'UTC', [everyDay, '12:00', '13:00']);
    expect(windowsAllow(lunch, at('2026-11-23T12:30:00Z'))).toBe(false);
    expect(windowsAllow(lunch, at('2026-11-23T13:00:00Z'))).toBe(true);
    expect(windowsAllow(lunch, at('2026-11-23T11:59:59Z'))).toBe(true);
  });

  it('a period whose end is not after its start runs past midnight, belonging to the day it starts', () => {
    const night = windows('Prohibited', 'Asia/Tokyo', [['Fri'], '22:00', '06:00']);
    // Friday 2026-11-27 22:00 JST = 13:00Z; Saturday 06:00 JST = Friday 21:00Z.
    expect(windowsAllow(night, at('2026-11-27T12:59:00Z'))).toBe(true);
    expect(windowsAllow(night, at('2026-11-27T13:00:00Z'))).toBe(false);
    expect(windowsAllow(night, at('2026-11-27T20:59:00Z'))).toBe(false); // Saturday 05:59 JST
    expect(windowsAllow(night, at('2026-11-27T21:00:00Z'))).toBe(true);
    // Thursday night is not Friday's period.
    expect(windowsAllow(night, at('2026-11-26T14:00:00Z'))).toBe(true);
  });

  it('00:00–24:00 is a whole day; 24:00 ends a period at midnight', () => {
    const sunday = windows('Prohibited', 'UTC', [['Sun'], '00:00', '24:00']);
    expect(windowsAllow(sunday, at('2026-11-29T00:00:00Z'))).toBe(false);
    expect(windowsAllow(sunday, at('2026-11-29T23:59:59Z'))).toBe(false);
    expect(windowsAllow(sunday, at('2026-11-30T00:00:00Z'))).toBe(true);
    expect(windowsAllow(sunday, at('2026-11-28T23:59:59Z'))).toBe(true);
  });

  it('follows the local clock across DST: the same wall-clock period moves in UTC', () => {
    const daily = windows('Allowed', 'Europe/Berlin', [everyDay, '09:00', '17:00']);
    expect(windowsAllow(daily, at('2026-07-01T07:00:00Z'))).toBe(true); // 09:00 CEST
    expect(windowsAllow(daily, at('2026-12-01T07:00:00Z'))).toBe(false); // 08:00 CET
    expect(windowsAllow(daily, at('2026-12-01T08:00:00Z'))).toBe(true);
  });

  it('a night period over spring-forward is an hour shorter, over fall-back an hour longer', () => {
    const night = windows('Prohibited', 'Europe/Berlin', [['Sat'], '22:00', '06:00']);
    // Sat 2026-03-28 22:00 CET = 21:00Z → Sun 06:00 CEST = 04:00Z (7 hours).
    expect(endOfPeriodsAt(night, at('2026-03-28T21:00:00Z'))).toBe(at('2026-03-29T04:00:00Z'));
    expect(windowsAllow(night, at('2026-03-29T03:59:00Z'))).toBe(false);
    expect(windowsAllow(night, at('2026-03-29T04:00:00Z'))).toBe(true);
    // Sat 2026-10-24 22:00 CEST = 20:00Z → Sun 06:00 CET = 05:00Z (9 hours).
    expect(endOfPeriodsAt(night, at('2026-10-24T20:00:00Z'))).toBe(at('2026-10-25T05:00:00Z'));
    expect(windowsAllow(night, at('2026-10-25T04:59:00Z'))).toBe(false);
  });

  it('a period starting in the repeated hour of fall-back lasts through both passes of it', () => {
    const repeated = windows('Prohibited', 'America/New_York', [['Sun'], '01:00', '02:00']);
    // 01:00 EDT = 05:00Z; 02:00 EST = 07:00Z.
    expect(windowsAllow(repeated, at('2026-11-01T05:00:00Z'))).toBe(false);
    expect(windowsAllow(repeated, at('2026-11-01T06:30:00Z'))).toBe(false); // 01:30 EST
    expect(windowsAllow(repeated, at('2026-11-01T07:00:00Z'))).toBe(true);
  });

  it('finds the next period start and the end of the periods under way (adjacent periods join)', () => {
    const split = windows('Allowed', 'UTC', [workdays, '09:00', '12:00'], [workdays, '12:00', '17:00']);
    expect(endOfPeriodsAt(split, at('2026-11-23T10:00:00Z'))).toBe(at('2026-11-23T17:00:00Z'));
    expect(nextPeriodStart(split, at('2026-11-23T10:00:00Z'))).toBe(at('2026-11-23T12:00:00Z'));
    expect(nextPeriodStart(split, at('2026-11-27T17:00:00Z'))).toBe(at('2026-11-30T09:00:00Z')); // Friday evening → Monday
    expect(endOfPeriodsAt(split, at('2026-11-23T18:00:00Z'))).toBe(at('2026-11-23T18:00:00Z'));
  });

  it('a refusal tells when a login is possible again', () => {
    expect(loginWindowVerdict(inForce(office), at('2026-11-23T17:00:00Z'))).toEqual({
      allowed: false, mode: 'Allowed', timeZone: 'Europe/Berlin', opensAt: at('2026-11-24T08:00:00Z'),
    });
    const lunch = windows('Prohibited', 'UTC', [everyDay, '12:00', '13:00']);
    expect(loginWindowVerdict(inForce(lunch), at('2026-11-23T12:10:00Z'))).toMatchObject({ allowed: false, opensAt: at('2026-11-23T13:00:00Z') });
    expect(loginWindowVerdict(noLoginWindows, at('2026-11-23T12:10:00Z'))).toEqual({ allowed: true });
  });
});

describe('a change takes effect from the next period', () => {
  const daytime = windows('Prohibited', 'UTC', [everyDay, '09:00', '17:00']);

  it('prohibited periods set during one: the period under way stays open, the next one is closed', () => {
    const state = changeLoginWindows(noLoginWindows, daytime, at('2026-11-23T10:00:00Z'));
    expect(state.effectiveFrom).toBe(at('2026-11-24T09:00:00Z'));
    expect(allowedAt(state, '2026-11-23T11:00:00Z')).toBe(true);
    expect(allowedAt(state, '2026-11-23T18:00:00Z')).toBe(true);
    expect(allowedAt(state, '2026-11-24T09:00:00Z')).toBe(false);
    expect(allowedAt(state, '2026-11-24T17:00:00Z')).toBe(true);
  });

  it('set before a period begins: that period is the next one; set after one ended: tomorrow\'s is', () => {
    expect(changeLoginWindows(noLoginWindows, daytime, at('2026-11-23T08:00:00Z')).effectiveFrom).toBe(at('2026-11-23T09:00:00Z'));
    expect(changeLoginWindows(noLoginWindows, daytime, at('2026-11-23T20:00:00Z')).effectiveFrom).toBe(at('2026-11-24T09:00:00Z'));
    // A period starting exactly now has begun.
    expect(changeLoginWindows(noLoginWindows, daytime, at('2026-11-23T09:00:00Z')).effectiveFrom).toBe(at('2026-11-24T09:00:00Z'));
  });

  it('allowed periods set during one: no restriction until the next period begins, then only inside periods', () => {
    const office = windows('Allowed', 'UTC', [everyDay, '09:00', '17:00']);
    const state = changeLoginWindows(noLoginWindows, office, at('2026-11-23T10:00:00Z'));
    expect(allowedAt(state, '2026-11-23T20:00:00Z')).toBe(true);
    expect(allowedAt(state, '2026-11-24T08:00:00Z')).toBe(true);
    expect(allowedAt(state, '2026-11-24T09:30:00Z')).toBe(true);
    expect(allowedAt(state, '2026-11-24T18:00:00Z')).toBe(false);
  });

  it('does not cut a period of the old windows under way at the change', () => {
    const nights = windows('Prohibited', 'UTC', [everyDay, '22:00', '06:00']);
    const old = inForce(nights);
    const lunch = windows('Prohibited', 'UTC', [everyDay, '12:00', '13:00']);
    const state = changeLoginWindows(old, lunch, at('2026-11-23T23:00:00Z'));
    expect(state.previous).toEqual(nights);
    expect(allowedAt(state, '2026-11-24T01:00:00Z')).toBe(false); // the old night goes on
    expect(allowedAt(state, '2026-11-24T07:00:00Z')).toBe(true);
    expect(allowedAt(state, '2026-11-24T12:30:00Z')).toBe(false);
    expect(allowedAt(state, '2026-11-24T23:00:00Z')).toBe(true); // nights are over

    // An old allowed period under way is not cut either, even by a new period later the same day.
    const wide = inForce(windows('Allowed', 'UTC', [everyDay, '08:00', '20:00']));
    const narrow = changeLoginWindows(wide, windows('Allowed', 'UTC', [everyDay, '12:00', '13:00']), at('2026-11-23T10:00:00Z'));
    expect(narrow.effectiveFrom).toBe(at('2026-11-24T12:00:00Z'));
    expect(allowedAt(narrow, '2026-11-23T13:30:00Z')).toBe(true);
    expect(allowedAt(narrow, '2026-11-23T21:00:00Z')).toBe(false); // the old windows still hold
    expect(allowedAt(narrow, '2026-11-24T12:30:00Z')).toBe(true);
    expect(allowedAt(narrow, '2026-11-24T14:00:00Z')).toBe(false);
  });

  it('removing the windows lifts them at once; a change that has not taken effect yet is replaced', () => {
    const closed = inForce(daytime);
    expect(allowedAt(changeLoginWindows(closed, null, at('2026-11-23T10:00:00Z')), '2026-11-23T10:00:00Z')).toBe(true);
    const pending = changeLoginWindows(noLoginWindows, daytime, at('2026-11-23T10:00:00Z'));
    const replaced = changeLoginWindows(pending, windows('Prohibited', 'UTC', [everyDay, '20:00', '21:00']), at('2026-11-23T11:00:00Z'));
    expect(replaced.previous).toBeNull();
    expect(replaced.effectiveFrom).toBe(at('2026-11-23T20:00:00Z'));
    expect(allowedAt(replaced, '2026-11-24T10:00:00Z')).toBe(true);
  });
});

describe('validation', () => {
  it('lists every bad field', () => {
    expect(() => validLoginWindows({ mode: 'Allowed', timeZone: 'Mars/Olympus', periods: [{ days: [], start: '25:00', end: '09:00' }] }))
      .toThrow(expect.objectContaining({
        code: 'INVALID_LOGIN_WINDOWS',
        details: { fields: [
          { field: 'timeZone', message: 'Mars/Olympus is not an IANA time zone' },
          { field: 'periods[0].days', message: 'at least one day' },
          { field: 'periods[0].start', message: 'must be HH:MM, 00:00–23:59' },
        ] },
      }));
    expect(() => validLoginWindows({ mode: 'Allowed', timeZone: 'UTC', periods: [] })).toThrow(expect.objectContaining({ code: 'INVALID_LOGIN_WINDOWS' }));
    expect(() => validLoginWindows({ mode: 'Allowed', timeZone: 'UTC', periods: [{ days: ['Mon', 'Mon'], start: '09:00', end: '09:00' }] }))
      .toThrow(expect.objectContaining({ details: { fields: [
        { field: 'periods[0].days', message: 'a day is named twice' },
        { field: 'periods[0].end', message: 'must differ from start (00:00–24:00 is a whole day)' },
      ] } }));
    expect(validLoginWindows(windows('Prohibited', 'America/Sao_Paulo', [['Sun'], '00:00', '24:00']))).toEqual(windows('Prohibited', 'America/Sao_Paulo', [['Sun'], '00:00', '24:00']));
  });
});

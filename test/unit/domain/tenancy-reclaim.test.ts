import { describe, expect, it } from 'vitest';
import { fold } from '../../../domain/shared/decider.js';
import { projectDecider, type LiveProject, type ProjectEvent, type ReclaimAction } from '../../../domain/tenancy/project.js';
import { defaultQuotas, vmQuotaAmounts } from '../../../domain/tenancy/quotas.js';
import { expiryNotice, loginBarredByReclaim, reclaimDue, reclaimDueTimes, reminderDue } from '../../../domain/tenancy/reclaim.js';
import { scenario } from '../../support/given-when-then.js';

// The project decider's login windows and reclaim by time, as given / when / then.

const day = 24 * 60 * 60 * 1000;
const projectId = 'p1';
const deadline = Date.parse('2026-06-30T00:00:00Z');
const createdWith = (action: ReclaimAction = 'DisableLogin'): ProjectEvent => ({
  type: 'ProjectCreated',
  data: { projectId, name: 'alpha', description: '', quotas: defaultQuotas, reclaimPolicy: { kind: 'ByTime', deadline, action }, createdAt: 1 },
});
const created = createdWith();
const reminded: ProjectEvent = { type: 'ProjectExpiryReminded', data: { projectId, deadline, at: deadline - 14 * day } };
const reclaimed = (action: ReclaimAction = 'DisableLogin', at = deadline): ProjectEvent => ({ type: 'ProjectReclaimed', data: { projectId, deadline, action, at } });
const stateChanged = (from: string, to: string, at = deadline): ProjectEvent => ({ type: 'ProjectStateChanged', data: { projectId, from, to, at } as never });
const given = scenario(projectDecider).given;
const live = (...events: ProjectEvent[]) => fold(projectDecider, events) as LiveProject;

describe('expiry reminder', () => {
  it('is recorded once per deadline, from 14 days before it', () => {
    given(created).when({ type: 'RemindExpiry', deadline, now: deadline - 14 * day }).then([reminded]);
    given(created, reminded).when({ type: 'RemindExpiry', deadline, now: deadline - day }).then([]);
    given(created).when({ type: 'RemindExpiry', deadline, now: deadline - 15 * day }).thenFails('EXPIRY_NOT_NEAR');
    given(created).when({ type: 'RemindExpiry', deadline: deadline + 1, now: deadline - day }).thenFails('RECLAIM_POLICY_CHANGED');
  });

  it('is due, and shown at login, only within 14 days before the deadline', () => {
    const project = live(created);
    expect(reminderDue(project, deadline - 14 * day - 1)).toBe(false);
    expect(reminderDue(project, deadline - 14 * day)).toBe(true);
    expect(reminderDue(live(created, reminded), deadline - day)).toBe(false);
    expect(reminderDue(project, deadline)).toBe(false);
    expect(expiryNotice(project, deadline - 14 * day - 1)).toBeUndefined();
    expect(expiryNotice(project, deadline - 3 * day + 1)).toMatchObject({ code: 'PROJECT_EXPIRING', daysLeft: 3, deadline: '2026-06-30T00:00:00.000Z', action: 'DisableLogin' });
    expect(expiryNotice(project, deadline)).toBeUndefined();
    expect(reclaimDueTimes({ kind: 'ByTime', deadline, action: 'DeleteProject' })).toEqual({ reminderDueAt: deadline - 14 * day, reclaimDueAt: deadline });
    expect(reclaimDueTimes({ kind: 'ByCost', spendingLimit: '100', action: 'DeleteProject' })).toEqual({ reminderDueAt: null, reclaimDueAt: null });
  });
});

describe('reclaim at the deadline', () => {
  it('expires login (both login-disabling actions), deletes with the delete action — resources or not', () => {
    given(created).when({ type: 'Reclaim', deadline, now: deadline }).then([reclaimed(), stateChanged('Enabled', 'LoginExpired')]);
    given(createdWith('DisableLoginAndStopResources')).when({ type: 'Reclaim', deadline, now: deadline + 5 })
      .then([reclaimed('DisableLoginAndStopResources', deadline + 5), stateChanged('Enabled', 'LoginExpired', deadline + 5)]);
    const vm: ProjectEvent = { type: 'ProjectQuotaReserved', data: { projectId, key: 'vm:a', amounts: vmQuotaAmounts(1, 1024) } };
    given(createdWith('DeleteProject'), vm).when({ type: 'Reclaim', deadline, now: deadline }).then([reclaimed('DeleteProject'), stateChanged('Enabled', 'Deleted')]);
  });

  it('a disabled project expires too; an expired one is only marked', () => {
    given(created, stateChanged('Enabled', 'Disabled', 5)).when({ type: 'Reclaim', deadline, now: deadline }).then([reclaimed(), stateChanged('Disabled', 'LoginExpired')]);
    given(created, stateChanged('Enabled', 'LoginExpired', 5)).when({ type: 'Reclaim', deadline, now: deadline }).then([reclaimed()]);
  });

  it('refuses before the deadline or for another deadline, and runs once per deadline', () => {
    given(created).when({ type: 'Reclaim', deadline, now: deadline - 1 }).thenFails('DEADLINE_NOT_REACHED');
    given(created).when({ type: 'Reclaim', deadline: deadline - 1, now: deadline }).thenFails('RECLAIM_POLICY_CHANGED');
    given(created, reclaimed(), stateChanged('Enabled', 'LoginExpired')).when({ type: 'Reclaim', deadline, now: deadline + day }).then([]);
    given(created, reclaimed('DeleteProject'), stateChanged('Enabled', 'Deleted')).when({ type: 'Reclaim', deadline, now: deadline + day }).thenFails('PROJECT_DELETED');
  });

  it('bars member logins from the deadline until restored; a restore does not run the action again; a new deadline does', () => {
    expect(loginBarredByReclaim(live(created), deadline - 1)).toBe(false);
    expect(loginBarredByReclaim(live(created), deadline)).toBe(true); // before the timer ran
    const expired = [created, reclaimed(), stateChanged('Enabled', 'LoginExpired')];
    expect(loginBarredByReclaim(live(...expired), deadline + 1)).toBe(true);
    const restored = [...expired, stateChanged('LoginExpired', 'Enabled', deadline + day)];
    expect(loginBarredByReclaim(live(...restored), deadline + 2 * day)).toBe(false);
    expect(reclaimDue(live(...restored), deadline + 2 * day)).toBe(false);
    given(...restored).when({ type: 'Restore', now: deadline + 2 * day }).thenFails('PROJECT_NOT_EXPIRED');
    const extended: ProjectEvent = { type: 'ProjectReclaimPolicyChanged', data: { projectId, reclaimPolicy: { kind: 'ByTime', deadline: deadline + 30 * day, action: 'DisableLogin' } } };
    expect(reclaimDue(live(...restored, extended), deadline + 30 * day)).toBe(true);
    expect(reminderDue(live(...restored, extended), deadline + 20 * day)).toBe(true);
  });

  it('by cost is stored only: it never falls due here', () => {
    const byCost: ProjectEvent = { type: 'ProjectReclaimPolicyChanged', data: { projectId, reclaimPolicy: { kind: 'ByCost', spendingLimit: '10.5', action: 'DeleteProject' } } };
    expect(reclaimDue(live(created, byCost), deadline + day)).toBe(false);
    expect(loginBarredByReclaim(live(created, byCost), deadline + day)).toBe(false);
  });
});

describe('login windows on the project', () => {
  it('records the windows with the moment they take effect (the next period), and refuses bad ones', () => {
    const now = Date.parse('2026-11-23T10:00:00Z');
    const windows = { mode: 'Prohibited' as const, timeZone: 'UTC', periods: [{ days: ['Mon' as const], start: '09:00', end: '17:00' }] };
    given(created).when({ type: 'SetLoginWindows', loginWindows: windows, now }).then([{
      type: 'ProjectLoginWindowsChanged',
      data: { projectId, loginWindows: { previous: null, current: windows, effectiveFrom: Date.parse('2026-11-30T09:00:00Z') }, at: now },
    }]);
    given(created).when({ type: 'SetLoginWindows', loginWindows: { ...windows, timeZone: 'Nowhere/Else' }, now }).thenFails('INVALID_LOGIN_WINDOWS');
  });
});

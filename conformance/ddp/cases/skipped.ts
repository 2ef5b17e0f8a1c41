/**
 * Checklist cases that join the suite later, listed so every ddp.md (b) number has an entry and a reason:
 * accounts (92–103) with issue #5.
 */
import { type CaseGroup, type ConformanceCase, caseNumber, notYetImplemented } from '../case.js';

const ACCOUNTS = 'joins with issue #5 (accounts)';

function later(group: CaseGroup, n: number, title: string, skip: string): ConformanceCase {
  return { id: `${group}.${caseNumber(n)}`, group, title, checklist: [n], skip, run: notYetImplemented };
}

/** Accounts cases (checklist 92–103). */
export const accountsCases: ConformanceCase[] = [
  later(
    'accounts',
    92,
    'login with a SHA-256 digest → {id, token, tokenExpires}, users added, updated',
    ACCOUNTS,
  ),
  later('accounts', 93, 'login with a wrong password → 403 ambiguous error', ACCOUNTS),
  later('accounts', 94, 'login with an unknown user → the same 403', ACCOUNTS),
  later('accounts', 95, 'login with a bad digest or algorithm → 400 "Match failed"', ACCOUNTS),
  later('accounts', 96, 'login with a plaintext password → success', ACCOUNTS),
  later('accounts', 97, 'login with a resume token on a new connection → same user', ACCOUNTS),
  later('accounts', 98, 'login with a bogus resume token → 403 logged out', ACCOUNTS),
  later('accounts', 99, 'logout → result, users removed, publications re-diffed, updated', ACCOUNTS),
  later(
    'accounts',
    100,
    'login while subscribed → only the difference is sent, ready re-sent once',
    ACCOUNTS,
  ),
  later('accounts', 101, 'six logins in 10 s → too-many-requests', ACCOUNTS),
  later('accounts', 102, 'sub meteor.loginServiceConfiguration → ready', ACCOUNTS),
  later('accounts', 103, 'sub meteor_autoupdate_clientVersions → ready', ACCOUNTS),
];

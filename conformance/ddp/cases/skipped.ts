/**
 * Checklist cases that join the suite later, listed so every ddp.md (b) number has an entry and a reason: the
 * SockJS group (1–6, 8) and resumption (104–106) with issue #3, accounts (92–103) with issue #5.
 */
import { type CaseGroup, type ConformanceCase, caseNumber, notYetImplemented } from '../case.js';

const SOCKJS = 'joins with issue #3 (SockJS/resumption)';
const ACCOUNTS = 'joins with issue #5 (accounts)';

function later(group: CaseGroup, n: number, title: string, skip: string): ConformanceCase {
  return { id: `${group}.${caseNumber(n)}`, group, title, checklist: [n], skip, run: notYetImplemented };
}

/** SockJS cases (checklist 1–6, 8). */
export const sockjsCases: ConformanceCase[] = [
  later('sockjs', 1, 'GET /sockjs/info → 200 JSON {websocket, origins, cookie_needed, entropy}', SOCKJS),
  later('sockjs', 2, 'OPTIONS /sockjs/info with Origin → CORS preflight allowing GET', SOCKJS),
  later('sockjs', 3, 'WS /sockjs/123/abcdefgh/websocket → first frame "o"', SOCKJS),
  later('sockjs', 4, 'SockJS array frame with connect → a["…connected…"]', SOCKJS),
  later('sockjs', 5, 'two DDP messages in one SockJS frame → both processed in order', SOCKJS),
  later('sockjs', 6, 'idle SockJS session → "h" heartbeat frame', SOCKJS),
  later('sockjs', 8, 'SockJS open → server-first welcome frame without msg (ddptest option)', SOCKJS),
];

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

/** Resumption cases (checklist 104–106). */
export const resumptionCases: ConformanceCase[] = [
  later('resumption', 104, 'reconnect with session and receivedCount in the grace period → resumed', SOCKJS),
  later('resumption', 105, 'wrong receivedCount or past the grace period → a new session', SOCKJS),
  later('resumption', 106, 'disconnect message, then reconnect → a new session', SOCKJS),
];

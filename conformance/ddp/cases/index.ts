/**
 * Every conformance case, in run order: ddp.md checklist order by group, then the ddptest suite (raw, then over
 * SockJS).
 */
import type { ConformanceCase } from '../case.js';
import { accountsCases } from './accounts.js';
import { ddptestCases } from './ddptest.js';
import { ejsonCases } from './ejson.js';
import { handshakeCases } from './handshake.js';
import { heartbeatCases } from './heartbeat.js';
import { malformedCases } from './malformed.js';
import { methodCases } from './methods.js';
import { randomCases } from './random.js';
import { resumptionCases } from './resumption.js';
import { ddptestSockJsCases, sockjsCases } from './sockjs.js';
import { subscriptionCases } from './subscriptions.js';
import { transportCases } from './transport.js';

/** All cases, including the ones always skipped (with their reasons). */
export const allCases: readonly ConformanceCase[] = [
  ...sockjsCases,
  ...transportCases,
  ...handshakeCases,
  ...malformedCases,
  ...heartbeatCases,
  ...methodCases,
  ...ejsonCases,
  ...randomCases,
  ...subscriptionCases,
  ...accountsCases,
  ...resumptionCases,
  ...ddptestCases,
  ...ddptestSockJsCases,
];

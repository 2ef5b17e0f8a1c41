/**
 * Every conformance case, in run order: wamp.md checklist order by group, then the secure defaults and the pgrt
 * bridge cases.
 */
import type { ConformanceCase } from '../case.js';
import { advancedCases } from './advanced.js';
import { brokerCases } from './broker.js';
import { compatCases } from './compat.js';
import { dealerCases } from './dealer.js';
import { metaCases } from './meta.js';
import { pgrtCases } from './pgrt.js';
import { secureCases } from './secure.js';
import { sessionCases } from './session.js';
import { transportCases } from './transport.js';
import { uriCases } from './uri.js';
import { violationCases } from './violations.js';

/** All cases, including the ones always skipped (with their reasons). */
export const allCases: readonly ConformanceCase[] = [
  ...transportCases,
  ...sessionCases,
  ...violationCases,
  ...uriCases,
  ...brokerCases,
  ...dealerCases,
  ...advancedCases,
  ...metaCases,
  ...compatCases,
  ...secureCases,
  ...pgrtCases,
];

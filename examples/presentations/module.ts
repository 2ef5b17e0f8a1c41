/**
 * The presentations demo as an app module for the CLI: `pgrt serve examples/presentations/module.ts` (under tsx).
 * An app module exports `app` (an App, or a function returning one) and optionally `migrate(db)`.
 */
export { migratePresentations as migrate, presentationsApp as app } from './app.js';

/**
 * The protocols pgrt ships: the one list the server, the configuration, the CLI and the public API know protocols
 * through. Adding a protocol = a folder `adapters/<name>/` whose index exports its adapter, plus its line here
 * (the import, the entry in {@link builtinAdapters}, and the re-export of its public API). See adapters/README.md.
 */
import { ddpAdapter } from './ddp/index.js';
import { supabaseAdapter } from './supabase/index.js';
import { wampAdapter } from './wamp/index.js';

export * from './ddp/index.js';
export * from './supabase/index.js';
export * from './wamp/index.js';

/** Every built-in adapter, in the order their sections appear in the configuration. */
export const builtinAdapters = [ddpAdapter, wampAdapter, supabaseAdapter] as const;

/**
 * Command line for the Supabase Realtime conformance suite:
 *
 *   tsx conformance/supabase/cli.ts <ws-url> [--table schema.table] [--database-url url] [--broadcast] [--pgrt]
 *                                   [--group g]… [--case id]… [--wait-ms n] [--strict]
 *
 * `<ws-url>` is the socket URL with its apikey, e.g. `ws://localhost:3000/realtime/v1/websocket?apikey=anon`.
 * The `rows` cases write rows through `--database-url` (else env `PGRT_SUPABASE_CONFORMANCE_DATABASE_URL`): the
 * database the server streams from, holding the tables of row-tables.ts. Without either they are not applicable.
 * Exit code 0 when no MUST case failed (with --strict: no case at all), 1 otherwise, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { type UsageChecks, usageChecks } from '../support/cli-core.js';
import { allCases } from './cases.js';
import { runCases, selectCases } from './runner.js';
import { connectSql, type SqlConnection } from './sql.js';

const USAGE = `usage: tsx conformance/supabase/cli.ts <ws-url> [options]

  <ws-url>          socket URL with its apikey, e.g. ws://localhost:3000/realtime/v1/websocket?apikey=anon
  --table <s.t>     a table every client may receive changes of (runs the changes group; changes.13 needs the
                    mocha entry, which writes rows)
  --database-url <u>
                    PostgreSQL URL of the database the server streams changes from (default: env
                    PGRT_SUPABASE_CONFORMANCE_DATABASE_URL); runs the rows group, which writes to
                    public.conformance_sb_keyed and public.conformance_sb_full (README: the SQL that makes them)
  --broadcast       the server serves broadcast (runs the binary group)
  --pgrt            run the pgrt group
  --group <g>       socket, channel, changes, rows, binary, pgrt (repeatable)
  --case <id>       e.g. socket.01 (repeatable)
  --wait-ms <n>     wait for each expected message (default 3000)
  --strict          count failures of every level, not only MUST
  -h, --help        this text
`;

const check: UsageChecks = usageChecks(USAGE);

function parse() {
  return parseArgs({
    allowPositionals: true,
    options: {
      table: { type: 'string' },
      'database-url': { type: 'string' },
      broadcast: { type: 'boolean' },
      pgrt: { type: 'boolean' },
      group: { type: 'string', multiple: true },
      case: { type: 'string', multiple: true },
      'wait-ms': { type: 'string' },
      strict: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
const parsed = check.orFail(parse);
if (parsed.values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
const url = check.wsUrl(parsed.positionals);
const waitMs = check.positiveInt(parsed.values['wait-ms'], '--wait-ms', 3000);
const cases = check.orFail(() => selectCases(allCases, parsed.values.group ?? [], parsed.values.case ?? []));
const databaseUrl = parsed.values['database-url'] ?? process.env.PGRT_SUPABASE_CONFORMANCE_DATABASE_URL;
let connection: SqlConnection | undefined;
if (databaseUrl) {
  try {
    connection = await connectSql(databaseUrl);
  } catch (error) {
    check.fail(`cannot connect to the database: ${error instanceof Error ? error.message : String(error)}`);
  }
}
const failed = await runCases(
  cases,
  {
    url,
    ...(parsed.values.table ? { table: parsed.values.table } : {}),
    ...(connection ? { sql: connection.sql } : {}),
    broadcast: parsed.values.broadcast ?? false,
    pgrt: parsed.values.pgrt ?? false,
    waitMs,
  },
  { strict: parsed.values.strict ?? false },
);
await connection?.close();
process.exitCode = failed ? 1 : 0;

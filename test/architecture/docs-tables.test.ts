/**
 * docs/configuration.md's table of keys, environment variables, types and defaults is the one scripts/gen-docs.ts
 * generates from the configuration schema, and docs/cli.md's `pgrt serve` flags table the one it generates from the
 * command: a key or flag added, renamed or re-defaulted in code without `npm run docs` fails here.
 */
import assert from 'node:assert/strict';
import { cliDoc, configTableRows, configurationDoc, withConfigTable } from '../../scripts/gen-docs.js';

describe('generated docs tables', () => {
  it('docs/configuration.md lists every configuration key as the schema defines it (npm run docs)', () => {
    const { current, generated } = configurationDoc();
    assert.equal(current, generated, 'docs/configuration.md is out of date: run npm run docs');
  });

  it('docs/cli.md lists every flag of pgrt serve as the command defines it (npm run docs)', () => {
    const { current, generated } = cliDoc();
    assert.equal(current, generated, 'docs/cli.md is out of date: run npm run docs');
    assert.match(generated, /^\| `-p, --port <port>` \|/m);
  });

  it('regenerating restores a drifted row and a missing one, and keeps the written meanings', () => {
    const { current } = configurationDoc();
    const portRow = configTableRows().find((row) => row.startsWith('| `port` |'))!;
    const drifted = current
      .replace(/^\| `port` \|.*$/m, '| `port` | `PGRT_PORT` | integer | `8080` | TCP port, hand-edited. |')
      .replace(/^\| `poolSize` \|.*\n/m, '');
    assert.notEqual(drifted, current);
    const restored = withConfigTable(drifted);
    assert.match(restored, /^\| `poolSize` \| `PGRT_POOL_SIZE` \|/m);
    assert.ok(
      restored.includes(
        '| `port` | `PGRT_PORT`, `PORT` | integer, 0–65535 | `3000` | TCP port, hand-edited. |',
      ),
    );
    assert.ok(portRow.includes('`PGRT_PORT`, `PORT`'));
  });
});

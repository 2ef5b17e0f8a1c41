/**
 * docs/configuration.md's table of keys, environment variables, types and defaults is the one scripts/gen-docs.ts
 * generates from the configuration schema: a key added, renamed or re-defaulted in code without `npm run docs`
 * fails here.
 */
import assert from 'node:assert/strict';
import { configTableRows, configurationDoc, withConfigTable } from '../../scripts/gen-docs.js';

describe('generated docs tables', () => {
  it('docs/configuration.md lists every configuration key as the schema defines it (npm run docs)', () => {
    const { current, generated } = configurationDoc();
    assert.equal(current, generated, 'docs/configuration.md is out of date: run npm run docs');
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

/**
 * The import boundaries of DESIGN.md hold on this tree (scripts/check-imports.ts), and the check finds each kind of
 * crossing in a tree made to break them.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { importViolations } from '../../scripts/check-imports.js';
import { ROOT } from '../cli/fixtures/cli-process.js';

describe('import boundaries', () => {
  it('core → core only; transports → core; adapters → core, transports and the contract, never each other', () => {
    assert.deepEqual(importViolations(ROOT), []);
  });

  it('reports every kind of crossing, and lets tests and fixtures import anything', () => {
    const root = mkdtempSync(join(tmpdir(), 'pgrt-imports-'));
    try {
      const files: Record<string, string> = {
        'core/session.ts': "import { x } from '../transports/http-host.js';\nimport { y } from './ok.js';",
        'core/ok.ts': "import pg from 'pg';",
        'transports/host.ts': "import type { Z } from '../adapters/ddp/index.js';\nimport '../core/ok.js';",
        'adapters/protocol-adapter.ts': "export * from '../server.js';",
        'adapters/ddp/index.ts': "import { wamp } from '../wamp/index.js';\nimport '../protocol-adapter.js';",
        'adapters/ddp/config.ts': "import { c } from '../../config/config-schema.js';\nimport './index.js';",
        'adapters/wamp/index.ts': "const m = await import('../builtin.js');",
        'adapters/wamp/index.test.ts': "import '../../server.js';",
        'adapters/wamp/fixtures/router.ts': "import '../../../server.js';",
        'test/adapters/toy/index.ts': "import '../../../adapters/ddp/index.js';",
      };
      for (const [path, text] of Object.entries(files)) {
        mkdirSync(dirname(join(root, path)), { recursive: true });
        writeFileSync(join(root, path), text);
      }
      const found = importViolations(root)
        .map((v) => `${v.file} → ${v.imports}`)
        .sort();
      assert.deepEqual(found, [
        'adapters/ddp/config.ts → config/config-schema.ts',
        'adapters/ddp/index.ts → adapters/wamp/index.ts',
        'adapters/protocol-adapter.ts → server.ts',
        'adapters/wamp/index.ts → adapters/builtin.ts',
        'core/session.ts → transports/http-host.ts',
        'test/adapters/toy/index.ts → adapters/ddp/index.ts',
        'transports/host.ts → adapters/ddp/index.ts',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

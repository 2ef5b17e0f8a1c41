// mocha reporter: mocha's spec output, then one closing line "N passed, N failed, N skipped" that CI reads.
'use strict';
const Mocha = require('mocha');
const { EVENT_RUN_END } = Mocha.Runner.constants;

class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats || {};
      // Printed after spec's epilogue so it is the last line.
      const line = `${s.passes || 0} passed, ${s.failures || 0} failed, ${s.pending || 0} skipped`;
      process.nextTick(() => process.stdout.write(`\n${line}\n`));
      // scripts/test.sh repeats it as the very last line, after coverage output.
      if (process.env.PGRT_SUMMARY_FILE)
        require('node:fs').writeFileSync(process.env.PGRT_SUMMARY_FILE, `${line}\n`);
    });
  }
}
module.exports = SummaryReporter;

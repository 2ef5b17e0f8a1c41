/**
 * The capture modes pgrt ships, by name: what the configuration's `capture` key selects (a {@link CaptureMode}
 * instance of an app's own works wherever a name does).
 */
import type { CaptureMode, CaptureModeName } from './capture-mode.js';
import { logicalCapture } from './logical-capture.js';
import { notifyCapture, outboxCapture } from './trigger-capture.js';

/** The built-in capture modes. */
export const CAPTURE_MODES: Readonly<Record<CaptureModeName, CaptureMode>> = {
  notify: notifyCapture,
  outbox: outboxCapture,
  logical: logicalCapture,
};

/** The capture mode named `mode` (or `mode` itself). */
export function captureMode(mode: CaptureModeName | CaptureMode): CaptureMode {
  if (typeof mode !== 'string') return mode;
  const found = CAPTURE_MODES[mode];
  if (!found) throw new RangeError(`unknown capture mode '${String(mode)}' (notify, outbox or logical)`);
  return found;
}

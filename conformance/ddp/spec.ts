/**
 * What each DDP case checks, quoted: the sentence of the DDP specification (meteor/meteor `packages/ddp/DDP.md`)
 * or, where DDP.md says nothing, the behaviour of Meteor's `ddp-server` as the project's DDP research notes
 * (reference/ddp.md) trace it in Meteor's code. Keyed by the ddp.md "(b) Black-box DDP conformance checklist"
 * number that the cases carry in `checklist`.
 *
 * Levels: `must` — DDP.md states it as a requirement (must, or a plain statement of the procedure); `should` —
 * DDP.md's should; `meteor` — only Meteor's behaviour (reason strings, error shapes, the merge box's precedence,
 * accounts, SockJS details), what real Meteor clients meet; `pgrt` — pgrt's own choice. A case that also asserts a
 * Meteor detail beside a spec sentence is `meteor`: a case is as binding as the weakest thing it asserts.
 */
import type { Citation } from '../support/citation.js';

/** How binding a DDP case is, strongest first. */
export type DdpLevel = 'must' | 'should' | 'meteor' | 'pgrt';

/** Every level, strongest first. */
export const DDP_LEVELS: readonly DdpLevel[] = ['must', 'should', 'meteor', 'pgrt'];

/** A DDP citation. */
export type DdpCitation = Citation<DdpLevel>;

const spec = (section: string, text: string, level: DdpLevel = 'must'): DdpCitation => ({
  level,
  source: `DDP.md "${section}"`,
  text,
});
const meteor = (section: string, text: string): DdpCitation => ({
  level: 'meteor',
  source: `reference/ddp.md ${section} (Meteor's ddp-server)`,
  text,
});

const TRANSPORT =
  'DDP may use either SockJS or WebSockets as a lower-level message transport. (For now, you connect via SockJS at the URL `/sockjs` and via WebSockets at the URL `/websocket`.)';
const FAILED =
  "Otherwise the server sends back a `failed` message with a version of DDP it would rather speak, informed by the `connect` message's `support` field, and closes the underlying transport.";
const OPTIMISTIC =
  'The client may optimistically send more messages after the `connect` message, assuming that the server will support the proposed protocol version. If the server does not support that version, it must ignore those additional messages.';
const BEST =
  'If, according to this ordering, the `version` proposed by the client is not the best version that the server supports, the server must force the client to switch to the better version by sending a `failed` message.';
const PONG =
  'When the other side receives a `ping` it must immediately respond with a `pong` message. If the received `ping` message includes an `id` field, the `pong` message must include the same `id` field.';
const UPDATED =
  "Once the server has finished sending the client all the relevant data messages based on this procedure call, the server should send an `updated` message to the client with this method's ID.";
const TOP_LEVEL_ERROR =
  "Other erroneous messages sent from the client to the server can result in receiving a top-level `msg: 'error'` message in response.";
const MALFORMED_METHOD =
  '`id` and `method` must be strings, `params` (if present) an array, `randomSeed` (if present) a string; otherwise the reply is `error "Malformed method invocation"` and no `result` (§1.5).';
const MALFORMED_SUB =
  'The id must be a string and the name a string. If `params` is present and not an array, the reply is `error "Malformed subscription"` (§1.5).';
const MUST_CONNECT =
  'Any other message before `connect` yields `error` with reason "Must connect first" and `offendingMessage`.';
const BAD_REQUEST =
  'A frame that does not parse, or parses to something other than an object, yields `{"msg":"error","reason":"Bad request"}`; an object without `msg` yields `error` "Bad request" with `offendingMessage`.';
const HANDLE_CONNECT =
  '`_handleConnect` checks that `version` is a string, `support` is an array of strings, and `support` contains `version`. If not, it sends `failed {version: "1"}` and closes the socket.';
const MERGE_BOX =
  "Field precedence is first come, first served. A later sub's value for an existing key is recorded but not sent; a sub leaving clears every key it contributed, which may send `changed`/`cleared`.";
const UNION =
  "The client maintains one set of data per collection. Each subscription does not get its own datastore, but rather overlapping subscriptions cause the server to send the union of facts about the one collection's data.";
const ACCOUNTS =
  'Accounts over DDP: `login` (password digest, plaintext, resume token) and `logout` as Meteor methods, the `users` universal publication, the ambiguous 403 errors and the default rate-limit rule of accounts-base (§1.13, §1.15).';
const RESUMPTION =
  'The server resumes only if the session is still in its grace period and the counts match; it then answers `connected` with the same session id and replays the buffered messages (Meteor 3.5, PR #14051).';
const EJSON_TYPES =
  'EJSON is a way of embedding more than the built-in JSON types in JSON. It supports all types built into JSON as plain JSON, plus the following: Dates, Binary data, Escaped things, User-specified types.';
const RANDOM_SEED =
  'Currently randomSeed is expected to be a string, and the algorithm by which values are produced from this is not yet documented.';

/** The citation of each checklist number. */
export const DDP_CHECKLIST: Readonly<Record<number, DdpCitation>> = {
  1: meteor(
    '§1.2',
    'SockJS is mounted at `<prefix>/sockjs`; `GET <base>/info` returns JSON with `websocket`, `origins`, `cookie_needed`, `entropy` and CORS headers.',
  ),
  2: meteor(
    '§1.2',
    'The SockJS info endpoint answers CORS preflight requests (sockjs 0.3.24 as Meteor mounts it).',
  ),
  3: meteor(
    '§1.2',
    'The transport URL is `<base>/<server>/<session>/websocket`; server→client frames: `o` (open), `h`, `a[...]`, `c[code,"reason"]`.',
  ),
  4: meteor(
    '§1.2',
    'Server→client frames: `a[...]` (JSON array of message strings); client→server frames on the websocket transport are JSON arrays of strings.',
  ),
  5: meteor(
    '§1.2',
    'Client→server frames on the websocket transport are JSON arrays of strings (several messages per frame).',
  ),
  6: meteor('§1.2', 'SockJS `heartbeat_delay: 45000` (SockJS `h` frames).'),
  7: spec(
    'General Message Structure',
    `${TRANSPORT} (Meteor also serves \`/websocket/\` with a query string: §1.2.)`,
    'meteor',
  ),
  8: spec(
    'Establishing a DDP Connection',
    'The server may send an initial message which is a JSON object lacking a `msg` key. (Meteor sent `{"server_id":"0"}` until 2.3; ddptest waits for it.)',
    'meteor',
  ),
  9: spec('Establishing a DDP Connection', 'The client does not have to wait for this message.'),
  10: meteor(
    '§1.3',
    'It creates a `Session` whose `id` is `Random.id()` (17 characters from the "unmistakable" alphabet), sends `connected {session: id}`.',
  ),
  11: meteor(
    '§1.3',
    'The `session` field of `connect` is ignored until PR #14051 (a new session every time).',
  ),
  12: spec('Establishing a DDP Connection', FAILED),
  13: meteor('§1.3', HANDLE_CONNECT),
  14: meteor('§1.3', HANDLE_CONNECT),
  15: meteor('§1.3', HANDLE_CONNECT),
  16: meteor('§1.3', HANDLE_CONNECT),
  17: spec('Establishing a DDP Connection', BEST),
  18: meteor(
    '§1.3',
    "The chosen version is the first entry in the client's `support` that the server supports (`SUPPORTED_DDP_VERSIONS = ['1','pre2','pre1']`).",
  ),
  19: meteor(
    '§1.4',
    '`pre1` sessions have no heartbeats. A `ping` in a `pre1` session gets `error "Bad request"`.',
  ),
  20: spec('Establishing a DDP Connection', FAILED),
  21: spec('Establishing a DDP Connection', OPTIMISTIC),
  22: spec('Establishing a DDP Connection', OPTIMISTIC),
  23: meteor(
    '§1.3',
    '`connect` while already connected yields `error` with reason "Already connected" and `offendingMessage`.',
  ),
  24: spec(
    'General Message Structure',
    'The client and the server must ignore any unknown fields in messages.',
  ),
  25: meteor('§1.3', MUST_CONNECT),
  26: meteor('§1.3', MUST_CONNECT),
  27: meteor('§1.3', MUST_CONNECT),
  28: meteor('§1.3', MUST_CONNECT),
  29: meteor('§1.3', MUST_CONNECT),
  30: meteor('§1.3', BAD_REQUEST),
  31: meteor('§1.3', BAD_REQUEST),
  32: meteor('§1.3', BAD_REQUEST),
  33: meteor(
    '§1.5',
    `${TOP_LEVEL_ERROR} (DDP.md "Errors"; the reason "Bad request" with \`offendingMessage\` is Meteor's.)`,
  ),
  34: meteor('§1.5', 'Top-level protocol error. The connection stays open.'),
  35: spec('Heartbeats', PONG),
  36: spec('Heartbeats', PONG),
  37: spec('Heartbeats', PONG),
  38: meteor(
    '§1.4',
    'Server defaults: `heartbeatInterval: 15000`, `heartbeatTimeout: 15000` ms; every interval the side sends a ping only if it has seen no packet since the last tick.',
  ),
  39: meteor('§1.4', 'When the timer fires, the server closes the session.'),
  40: meteor('§1.4', 'Any received message, not just a `pong`, counts as liveness and clears the timer.'),
  41: meteor('§1.4', 'An unsolicited `pong` is liveness only: no reply, no error.'),
  42: spec(
    'Remote Procedure Calls',
    `${UPDATED} There is no particular required ordering between \`result\` and \`updated\` messages for a method call.`,
    'should',
  ),
  43: meteor('§1.5', '`result` is omitted when the method returns `undefined`.'),
  44: spec(
    'Remote Procedure Calls',
    `\`params\`: optional array of EJSON items (parameters to the method). ${UPDATED}`,
    'should',
  ),
  45: meteor(
    '§1.8',
    'Method not found: `result` with `404` / `Method \'<name>\' not found`, `message` "<reason> [404]", `errorType: "Meteor.Error"`.',
  ),
  46: meteor(
    '§1.8',
    'A `Meteor.Error` has `error`, `reason`, `details`, `message` (`reason + " [" + error + "]"`) and `errorType: "Meteor.Error"`.',
  ),
  47: meteor('§1.8', 'Uncaught non-client-safe exception: `500` / `Internal server error`.'),
  48: meteor('§1.5', MALFORMED_METHOD),
  49: meteor('§1.5', MALFORMED_METHOD),
  50: meteor('§1.5', MALFORMED_METHOD),
  51: meteor('§1.5', MALFORMED_METHOD),
  52: meteor('§1.5', MALFORMED_METHOD),
  53: meteor(
    '§1.6',
    'Each session processes incoming non-ping messages one at a time, in order (unless a handler calls `this.unblock()`).',
  ),
  54: meteor('§1.6', 'The in-order queue is per session: two connections run their methods concurrently.'),
  55: meteor('§1.5', 'The server keeps no history of method ids: a reused id is a new call.'),
  56: spec('Appendix: EJSON', `${EJSON_TYPES} Dates: {"$date": MILLISECONDS_SINCE_EPOCH}`),
  57: spec('Appendix: EJSON', `${EJSON_TYPES} Binary data: {"$binary": BASE_64_STRING}`),
  58: meteor('§1.9', 'NaN / ±Infinity: `{"$InfNaN": 0 | 1 | -1}` (not in DDP.md; Meteor\'s ejson).'),
  59: spec(
    'Appendix: EJSON',
    'Escaped things that might otherwise look like EJSON types: {"$escape": THING}. Note that escaping only causes keys to be literal for one level down.',
  ),
  60: spec('Appendix: EJSON', 'User-specified types: {"$type": TYPENAME, "$value": VALUE}'),
  61: meteor(
    '§1.9',
    'RegExp: `{"$regexp": "<source>", "$flags": "<flags>"}` (not in DDP.md; Meteor ≥ 1.x ejson).',
  ),
  62: spec(
    'Appendix: EJSON',
    'Implementations of EJSON should try to preserve key order where they can.',
    'should',
  ),
  63: meteor(
    '§1.9',
    'An object that merely looks like a built-in type (e.g. `{"$date": 1, "x": 2}`) is not converted, because the key counts differ.',
  ),
  64: meteor(
    '§1.10',
    `${RANDOM_SEED} (DDP.md) Meteor: each named sequence is an Alea PRNG seeded with \`[seed, name]\`; collection ids come from \`/collection/<name>\`.`,
  ),
  65: meteor('§1.10', 'Sequences are cached per invocation, so each call continues the same stream.'),
  66: meteor('§1.10', "With `idGeneration: 'MONGO'` ids are `new ObjectID(stream.hexString(24))`."),
  67: meteor('§1.10', '`Random.id(n=17)` picks `n` characters from the unmistakable alphabet.'),
  68: meteor(
    '§1.5',
    'One `added` per document with its fields (the `_id` key in published fields is ignored), then `ready`.',
  ),
  69: meteor(
    '§1.5',
    '`sub`: `params?` (array); one `added` per document (no `_id` in fields), then `ready`.',
  ),
  70: spec(
    'Managing Data',
    'When one or more subscriptions have finished sending their initial batch of data, the server will send a `ready` message with their IDs.',
  ),
  71: meteor('§1.5', MALFORMED_SUB),
  72: meteor('§1.5', MALFORMED_SUB),
  73: meteor('§1.5', MALFORMED_SUB),
  74: meteor('§1.8', "Publication not found: `nosub` with `404` / `Subscription '<name>' not found`."),
  75: meteor(
    '§1.5',
    'A duplicate id for a live sub is silently ignored ("subs are idempotent… important during reconnect").',
  ),
  76: meteor(
    '§1.7',
    "A publisher's `this.error()` removes its documents, then `nosub` carries the sanitized error.",
  ),
  77: meteor(
    '§1.8',
    'Uncaught non-client-safe exception in a publication: `nosub` with `500` / `Internal server error`.',
  ),
  78: meteor(
    '§1.5',
    "`nosub` is sent on unsub, on `this.stop()`, and on publish errors; the sub's documents are removed first.",
  ),
  79: meteor('§1.5', "`_stopSubscription` first sends `removed` for the sub's documents, then `nosub {id}`."),
  80: meteor('§1.5', '`_stopSubscription` always replies `nosub {id}`, even if no such sub exists.'),
  81: meteor('§1.5', '`unsub` without an id is answered with `nosub` (ddptest).'),
  82: spec(
    'Managing Data',
    `A \`changed\` message indicates a document in the local set has new values for some fields or has had some fields removed. ${UPDATED}`,
    'should',
  ),
  83: spec(
    'Managing Data',
    `The \`cleared\` field contains an array of fields that are no longer in the document. ${UPDATED}`,
    'should',
  ),
  84: meteor('§1.5', '`changed` is never sent when nothing changed (`sendChanged` returns early on empty).'),
  85: meteor('§1.7', `${MERGE_BOX} (DDP.md: "${UNION}")`),
  86: meteor('§1.7', MERGE_BOX),
  87: meteor('§1.7', '`removed` from a sub: the sub leaves `existsIn`. If no sub is left, send `removed`.'),
  88: spec('Managing Data', UNION),
  89: meteor(
    '§1.3',
    'On `connected` the server starts universal (null-name) publications; they never produce a `ready`.',
  ),
  90: spec(
    'Managing Data',
    'NOTE: The ordered collection DDP messages are not currently used by Meteor. (Meteor\'s client logs "discarding unknown livedata message type".)',
    'meteor',
  ),
  91: meteor('§1.7', '24-hex string ids must be `-`-escaped or the client will parse them as ObjectIDs.'),
  92: meteor('§1.15', ACCOUNTS),
  93: meteor('§1.15', ACCOUNTS),
  94: meteor('§1.15', ACCOUNTS),
  95: meteor('§1.15', ACCOUNTS),
  96: meteor('§1.15', ACCOUNTS),
  97: meteor('§1.15', ACCOUNTS),
  98: meteor('§1.15', ACCOUNTS),
  99: meteor('§1.15', ACCOUNTS),
  100: meteor(
    '§1.15',
    `${ACCOUNTS} Ready messages held during setUserId reruns are flushed as one \`ready\` (§1.5).`,
  ),
  101: meteor(
    '§1.13',
    '`accounts-base` adds one default rule: methods `login`, `createUser`, `resetPassword` and `forgotPassword`, 5 calls per 10 000 ms per connection.',
  ),
  102: meteor(
    '§1.14',
    'A real Meteor browser client subscribes to `meteor.loginServiceConfiguration` and expects `ready`.',
  ),
  103: meteor(
    '§1.14',
    'A real Meteor browser client subscribes to `meteor_autoupdate_clientVersions` and expects `ready`.',
  ),
  104: meteor('§1.12', RESUMPTION),
  105: meteor('§1.12', RESUMPTION),
  106: meteor(
    '§1.12',
    'Only ungraceful disconnects can be resumed: after a `disconnect` message the server drops the session at once.',
  ),
};

/** What the ddptest cases check: meteorhacks/ddptest, Meteor's exact replies of 2015 (ddp.md §2.1). */
export const DDPTEST_CITATION: DdpCitation = {
  level: 'meteor',
  source: 'reference/ddp.md §2.1 (meteorhacks/ddptest)',
  text: "The DDP test suite from the talk: each test sends one raw message and checks the first reply of the expected type against Meteor's (reason strings, `failed {version}`, 17-character sessions).",
};

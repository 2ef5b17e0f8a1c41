/**
 * What each WAMP case checks, quoted from the WAMP v2 specification (wamp-proto/wamp-proto, `rfc/text/`: the Basic
 * Profile in `basic/*.md`, the Advanced Profile in `advanced/*.md`) or, where the spec says nothing, the practice
 * of the routers and clients the project's WAMP research notes describe (reference/wamp.md). Keyed by the wamp.md
 * "(b) Black-box router conformance checklist" number that the cases carry in `checklist`.
 *
 * Levels: `must` — the spec states it as a requirement (MUST/SHALL, a defined error URI, or the plain statement of
 * a message exchange: "the Broker replies by sending a PUBLISHED message"); `should` — the spec's SHOULD or a
 * recommendation; `practice` — not in the spec: what Crossbar.io, Autobahn|JS or Wampy do or need (wamp.md §2, §4);
 * `pgrt` — pgrt's own core bridge and reserved namespace. Advanced Profile cases are `must` for a router that
 * announces the feature (cases that need one are skipped otherwise). A case is as binding as the weakest thing it
 * asserts.
 */
import type { Citation } from '../support/citation.js';

/** How binding a WAMP case is, strongest first. */
export type WampLevel = 'must' | 'should' | 'practice' | 'pgrt';

/** Every level, strongest first. */
export const WAMP_LEVELS: readonly WampLevel[] = ['must', 'should', 'practice', 'pgrt'];

/** A WAMP citation. */
export type WampCitation = Citation<WampLevel>;

const spec = (file: string, text: string, level: WampLevel = 'must'): WampCitation => ({
  level,
  source: `WAMP spec rfc/text/${file}`,
  text,
});
const practice = (section: string, text: string): WampCitation => ({
  level: 'practice',
  source: `reference/wamp.md ${section} (not in the spec)`,
  text,
});

const BB = 'basic/building_blocks.md';
const SESSIONS = 'basic/sessions.md';
const PUBSUB = 'basic/publish_subscribe.md';
const RPC = 'basic/remote_procedure_call.md';
const URIS = 'basic/uri_reference.md';
const ORDER = 'basic/security_model.md "Ordering Guarantees"';
const RAW = 'advanced/transport_rawsocket.md';

const NEGOTIATED =
  'The WAMP protocol MUST BE negotiated during the WebSocket opening handshake between Peers using the WebSocket subprotocol negotiation mechanism.';
const PROTOCOL_ERRORS =
  'Following scenarios have to be considered protocol errors: […] In all such cases WAMP implementations: 1. MUST send an `ABORT` message to the offending peer, having reason `wamp.error.protocol_violation` […] 2. MUST abort the WAMP session by disposing any allocated subscriptions/registrations for that particular client';
const URI_RULES =
  'URI components (the parts between two `.`s, the head part up to the first `.`, the tail part after the last `.`) MUST NOT contain a `.`, `#` or whitespace characters and MUST NOT be empty (zero-length strings).';
const INVALID_URI =
  'When a Peer provides an incorrect URI for any URI-based attribute of a WAMP message (e.g. realm, topic), then the other Peer MUST respond with an `ERROR` message and give the following Error URI: wamp.error.invalid_uri';
const NOT_AUTHORIZED =
  'A join, call, register, publish or subscribe failed, since the Peer is not authorized to perform the operation: wamp.error.not_authorized';
const PUBSUB_ORDER =
  'If Subscriber A is subscribed to both Topic 1 and Topic 2, and Publisher B first publishes an Event 1 to Topic 1 and then an Event 2 to Topic 2, then Subscriber A will first receive Event 1 and then Event 2.';
const RPC_ORDER =
  'If Callee A has registered endpoints for both Procedure 1 and Procedure 2, and Caller B first issues a Call 1 to Procedure 1 and then a Call 2 to Procedure 2, and both calls are routed to Callee A, then Callee A will first receive an invocation corresponding to Call 1 and then Call 2.';
const EXCLUDE_ELIGIBLE =
  'An (authorized) Subscriber to topic T will receive an event published to T if and only if all of the following statements hold true: […] (`PUBLISH.Options.exclude`, `eligible`, `exclude_authid`, `eligible_authid`, `exclude_authrole`, `eligible_authrole`)';
const PATTERN_TOPIC =
  'If a subscription was established with a pattern-based matching policy, a Broker MUST supply the original `PUBLISH.Topic` as provided by the Publisher in `EVENT.Details.topic|uri`.';
const PATTERN_PROCEDURE =
  'If an endpoint was registered with a pattern-based matching policy, a Dealer MUST supply the original `CALL.Procedure` as provided by the Caller in `INVOCATION.Details.procedure`.';
const SHARED =
  "With 'single', the Dealer MUST fail all subsequent attempts to register a procedure for the URI while the registration remains in existence. With the other values, the Dealer MUST fail all subsequent attempts to register a procedure for the URI where the value for this option does not match that of the initial registration.";
const TICKET =
  'The server will then check if the ticket provided is permissible (for the `authid` given). If the authentication succeeds, the server will finally respond with a `WELCOME` message […] If the authentication fails, the server will response with an `ABORT` message.';
const META_SESSION =
  'Session meta procedures MUST be registered by the Router on the same realm as the WAMP session about which information is retrieved. Session Meta Events MUST be dispatched by the Router to the same realm as the WAMP session which triggered the event.';

/** The citation of each checklist number. */
export const WAMP_CHECKLIST: Readonly<Record<number, WampCitation>> = {
  1: spec(BB, `${NEGOTIATED} With \`wamp.2.json\`, all WebSocket messages MUST BE of type text.`),
  2: spec(BB, `${NEGOTIATED} With \`wamp.2.msgpack\`, all WebSocket messages MUST BE of type binary.`),
  3: spec(BB, `${NEGOTIATED} With \`wamp.2.cbor\`, all WebSocket messages MUST BE of type binary.`),
  4: spec(BB, NEGOTIATED),
  5: spec(BB, NEGOTIATED),
  6: spec(
    BB,
    `With \`wamp.2.json\`, all WebSocket messages MUST BE of type text. ${PROTOCOL_ERRORS} (Catching error during message encoding/decoding.)`,
  ),
  7: spec(BB, `${PROTOCOL_ERRORS} (Catching error during message encoding/decoding.)`),
  8: spec(
    RAW,
    'In the second octet, the Router MUST echo the serializer value in `SERIALIZER` as requested by the Client.',
  ),
  9: spec(
    RAW,
    'An error reply has 4 octets: the first octet is again the magic `0x7F` […] error codes: 1: serializer unsupported.',
  ),
  10: spec(
    RAW,
    'The third and forth octet are reserved and MUST be all zeros for now. […] error codes: 3: use of reserved bits (unsupported feature).',
  ),
  11: spec(
    RAW,
    'If the first octet differs from `0x7F`, it is not a WAMP-over-RawSocket request. Unless the Router also supports other transports on the connecting port (such as WebSocket or LongPoll), the Router MUST fail the connection.',
  ),
  12: spec(
    RAW,
    'A Peer MUST reply to each `PING` by sending exactly one `PONG` immediately, and the `PONG` MUST echo back the payload of the `PING` exactly.',
  ),
  13: spec(
    RAW,
    'If a message received during a connection exceeds the limit requested, a Peer MUST fail the connection.',
  ),
  14: spec(
    SESSIONS,
    '`Session` MUST be a randomly generated ID specific to the WAMP session. […] A Router MUST announce the roles it supports via `Welcome.Details.roles|dict`. (IDs in the global scope: [1, 2^53], basic/building_blocks.md.)',
  ),
  15: spec(
    BB,
    'IDs in the global scope MUST be drawn randomly from a uniform distribution over the complete range [1, 2^53].',
  ),
  16: spec(
    URIS,
    'Peer wanted to join a non-existing realm (and the Router did not allow to auto-create the realm): wamp.error.no_such_realm',
  ),
  17: spec(URIS, INVALID_URI),
  18: practice(
    '§1.2',
    'HELLO without `roles` (or with `roles: {}`) is refused with ABORT `wamp.error.protocol_violation`: the documented choice of wamp.md; the spec only says a Client announces the roles it implements.',
  ),
  19: spec(
    'basic/messages.md',
    'Some WAMP messages contain `Options|dict` or `Details|dict` elements. This allows for future extensibility and implementations that only provide subsets of functionality by ignoring unimplemented attributes.',
  ),
  20: spec(
    'advanced/authentication_ticket.md',
    'The `HELLO.Details.authmethods|list` is used by the client to announce the authentication methods it is prepared to perform. For Ticket-based, this MUST include "ticket". (The router answers with CHALLENGE `ticket`.)',
  ),
  21: spec('advanced/authentication_ticket.md', TICKET),
  22: spec('advanced/authentication_ticket.md', TICKET),
  23: spec(
    'advanced/authentication_cra.md',
    'If the server is willing to let the client authenticate using WAMP-CRA, and the server recognizes the provided `authid`, it MUST send a `CHALLENGE` message […] The string MUST BE a JSON serialized object which MUST contain: authid, authrole, authmethod, authprovider, nonce, timestamp, session.',
  ),
  24: practice(
    '§1.6',
    'HELLO with only authentication methods the realm does not offer → ABORT `wamp.error.no_matching_auth_method` (Crossbar.io; the spec lets the server "skip forward … or send an ABORT").',
  ),
  25: spec(
    URIS,
    'A Peer acknowledges ending of a session - used as a `GOODBYE` reply reason: wamp.close.goodbye_and_out. (basic/sessions.md: a session ends "when the WAMP session is closed explicitly by a GOODBYE message sent by one Peer and a GOODBYE message sent from the other Peer in response".)',
  ),
  26: practice(
    '§4.2',
    'Autobahn|JS closes with the non-standard reason `wamp.close.normal`; routers answer it with GOODBYE like any other reason.',
  ),
  27: spec(
    SESSIONS,
    'A WAMP session starts its lifetime with the Router sending a `WELCOME` message to the Client and ends when the underlying transport disappears or when the WAMP session is closed explicitly by a `GOODBYE` message.',
  ),
  28: spec(
    SESSIONS,
    'Both the Router and the Client may abort a WAMP session by sending an `ABORT` message. […] No response to an `ABORT` message is expected.',
  ),
  29: spec('advanced/meta_api_sessions.md', META_SESSION),
  30: spec(
    SESSIONS,
    `It is a protocol error to receive a second \`HELLO\` message during the lifetime of the session and the Peer MUST close the session if that happens. ${PROTOCOL_ERRORS}`,
  ),
  31: spec(
    SESSIONS,
    `The \`HELLO\` message MUST be the very first message sent by the Client after the transport has been established. ${PROTOCOL_ERRORS}`,
  ),
  32: spec(BB, `Receiving \`GOODBYE\` message, before session was established. ${PROTOCOL_ERRORS}`),
  33: spec(
    BB,
    `Receiving protocol incompatible message, such as empty array, invalid WAMP message type id, etc. ${PROTOCOL_ERRORS}`,
  ),
  34: spec(
    BB,
    `Receiving protocol incompatible message, such as empty array, invalid WAMP message type id, etc. ${PROTOCOL_ERRORS}`,
  ),
  35: spec(
    BB,
    `Receiving protocol incompatible message, such as empty array, invalid WAMP message type id, etc. ${PROTOCOL_ERRORS}`,
  ),
  36: spec(
    BB,
    `IDs in the session scope MUST be incremented by 1 beginning with 1 […] Receiving message with non-sequential session scope request ID. ${PROTOCOL_ERRORS}`,
  ),
  37: spec(
    BB,
    `Receiving message with non-sequential session scope request ID, such as SUBSCRIBE, UNSUBSCRIBE, PUBLISH, REGISTER, UNREGISTER, and CALL. ${PROTOCOL_ERRORS}`,
  ),
  38: spec(BB, `Receiving \`ERROR\` message with invalid REQUEST.Type. ${PROTOCOL_ERRORS}`),
  39: spec(BB, `Receiving \`YIELD\` message with invalid INVOCATION.Request. ${PROTOCOL_ERRORS}`),
  40: practice(
    '§1.7',
    'A CALL with `progress: true` from a caller (or to a router) that did not announce `progressive_call_invocations` is a protocol violation (wamp.md §1.7; the spec defines the option only with the feature).',
  ),
  41: spec(BB, `${URI_RULES} ${INVALID_URI}`),
  42: spec(
    BB,
    'Further, application URIs MUST NOT use `wamp` as a first URI component, since this is reserved for URIs predefined with the WAMP protocol itself.',
  ),
  43: spec(
    BB,
    'While the above rules MUST be followed, following a stricter URI rule is recommended: URI components SHOULD only contain lower-case letters, digits and `_`.',
    'should',
  ),
  44: spec(BB, `${URI_RULES} ${INVALID_URI}`),
  45: spec(
    PUBSUB,
    'If the Broker is able to fulfill and allow the subscription, it answers by sending a `SUBSCRIBED` message to the Subscriber.',
  ),
  46: spec(
    PUBSUB,
    'In case of receiving a `SUBSCRIBE` message from the same Subscriber and to already subscribed topic, Broker should answer with `SUBSCRIBED` message, containing the existing `Subscription|id`.',
    'should',
  ),
  47: spec(
    PUBSUB,
    'By default, publications are unacknowledged, and the Broker will not respond, whether the publication was successful indeed or not. […] `SUBSCRIBED.Subscription` is the ID for the subscription under which the Subscriber receives the event.',
  ),
  48: spec(
    PUBSUB,
    'If the Broker is able to fulfill and allowing the publication, and `PUBLISH.Options.acknowledge == true`, the Broker replies by sending a `PUBLISHED` message to the Publisher.',
  ),
  49: spec(
    PUBSUB,
    '(EVENT) `PUBLISH.Arguments` is the application-level event payload that was provided with the original publication request. `PUBLISH.ArgumentsKw` is the application-level event payload that was provided with the original publication request.',
  ),
  50: spec(
    PUBSUB,
    'Note that the Publisher of an event will never receive the published event even if the Publisher is also a Subscriber of the topic published to.',
  ),
  51: spec(
    PUBSUB,
    `When the request for publication cannot be fulfilled by the Broker, and \`PUBLISH.Options.acknowledge == true\`, the Broker sends back an \`ERROR\` message to the Publisher. ${NOT_AUTHORIZED}`,
  ),
  52: spec(
    PUBSUB,
    `When the request for subscription cannot be fulfilled by the Broker, the Broker sends back an \`ERROR\` message to the Subscriber. ${NOT_AUTHORIZED}`,
  ),
  53: spec(
    PUBSUB,
    'Upon successful unsubscription, the Broker sends an `UNSUBSCRIBED` message to the Subscriber.',
  ),
  54: spec(
    URIS,
    'A Broker could not perform an unsubscribe, since the given subscription is not active: wamp.error.no_such_subscription',
  ),
  55: spec(ORDER, PUBSUB_ORDER),
  56: spec(
    ORDER,
    'Further, if Subscriber A subscribes to Topic 1, the `SUBSCRIBED` message will be sent by the Broker to Subscriber A before any `EVENT` message for Topic 1.',
  ),
  57: spec(
    'advanced/pubsub_publisher_exclusion.md',
    'When publishing with `PUBLISH.Options.exclude_me := false`, the Publisher of the event will receive that event, if it is subscribed to the `Topic` published to.',
  ),
  58: spec('advanced/pubsub_subscriber_blackwhite_listing.md', EXCLUDE_ELIGIBLE),
  59: spec('advanced/pubsub_subscriber_blackwhite_listing.md', EXCLUDE_ELIGIBLE),
  60: spec('advanced/pubsub_subscriber_blackwhite_listing.md', EXCLUDE_ELIGIBLE),
  61: spec('advanced/pubsub_subscriber_blackwhite_listing.md', EXCLUDE_ELIGIBLE),
  62: spec(
    'advanced/pubsub_publisher_identification.md',
    "A Publisher may request the disclosure of its identity (its WAMP session ID) to receivers of a published event by setting `PUBLISH.Options.disclose_me|bool := true` […] the Broker would send an `EVENT` message to Subscribers with the Publisher's WAMP session ID in `EVENT.Details.publisher`.",
  ),
  63: spec(
    'advanced/pubsub_pattern_based_subscription.md',
    `When a prefix-matching policy is in place, any event with a topic that has \`SUBSCRIBE.Topic\` as a prefix will match the subscription. ${PATTERN_TOPIC}`,
  ),
  64: spec(
    'advanced/pubsub_pattern_based_subscription.md',
    `A Subscriber requests wildcard-matching policy with a subscription request by setting \`SUBSCRIBE.Options.match|string := "wildcard"\`. ${PATTERN_TOPIC}`,
  ),
  65: spec(
    'advanced/pubsub_pattern_based_subscription.md',
    "When a single event matches more than one of a Subscriber's subscriptions, the event will be delivered for each subscription. The Subscriber can detect the delivery of that same event on multiple subscriptions via `EVENT.PUBLISHED.Publication`, which will be identical.",
  ),
  66: spec(
    'advanced/pubsub_event_retention.md',
    'A Broker that advertises support MAY provide event retention on topics it provides. This event retention SHOULD be provided on a best-effort basis […] The Retained Event, as sent to the subscribing client, MUST have `Event.Details.retained|bool` set to `true`.',
    'should',
  ),
  67: spec(
    URIS,
    'A procedure could not be registered, since a procedure with the given URI is already registered: wamp.error.procedure_already_exists',
  ),
  68: spec(
    BB,
    'IDs in the session scope MUST be incremented by 1 beginning with 1 and wrapping to 1 after it reached 2^53 (for each direction - Client-to-Router and Router-to-Client).',
  ),
  69: spec(
    RPC,
    'If the Callee is able to successfully process and finish the execution of the call, it answers by sending a `YIELD` message to the Dealer […] The Dealer will then send a `RESULT` message to the original Caller.',
  ),
  70: spec(
    RPC,
    'If the Callee is unable to process or finish the execution of the call […] the Callee sends an `ERROR` message to the Dealer […] The Dealer will then send a `ERROR` message to the original Caller.',
  ),
  71: spec(
    URIS,
    'A Dealer could not perform a call, since no procedure is currently registered under the given URI: wamp.error.no_such_procedure',
  ),
  72: spec(RPC, 'Upon successful unregistration, the Dealer sends an `UNREGISTERED` message to the Callee.'),
  73: spec(
    URIS,
    'A Dealer could not perform an unregister, since the given registration is not active: wamp.error.no_such_registration',
  ),
  74: spec(
    RPC,
    'After sending an INVOCATION message, if a Dealer detects that the Callee has left/disconnected without sending a final YIELD or ERROR response, then the Dealer SHALL return an ERROR message back to the Caller with a `wamp.error.canceled` URI.',
  ),
  75: spec(
    RPC,
    'If, after the Dealer sends an INVOCATION but before it receives a YIELD or ERROR response, the Dealer detects the original Caller leaving or disconnecting, then the Dealer shall send an INTERRUPT to the Callee if both the Dealer and Callee support the Call Canceling feature.',
  ),
  76: spec(ORDER, RPC_ORDER),
  77: spec(
    BB,
    "Routers SHOULD implement more than one serialization format, enabling components using different kinds of serializations to connect to each other. (A call keeps its arguments whatever the peers' serializers.)",
    'should',
  ),
  78: spec(
    'advanced/rpc_progressive_call_results.md',
    'Upon receiving an `YIELD` message from a Callee with `YIELD.Options.progress == true` (for a call that is still ongoing), the Dealer will immediately send a `RESULT` message to the original Caller with `RESULT.Details.progress|bool := true`.',
  ),
  79: practice(
    '§1.9',
    'A progressive YIELD for a call whose caller did not set `receive_progress` is not forwarded; only the final RESULT reaches the caller (Crossbar.io). The spec does not make the forwarding depend on `receive_progress`.',
  ),
  80: spec(
    'advanced/rpc_call_canceling.md',
    'kill: `INTERRUPT` is sent to the callee, but `ERROR` is not returned to the caller until after the callee has responded to the canceled call.',
  ),
  81: spec(
    'advanced/rpc_call_canceling.md',
    'killnowait: The pending call is canceled and `ERROR` is sent immediately back to the caller. `INTERRUPT` is sent to the callee and any response to the invocation or interrupt from the callee is discarded when received.',
  ),
  82: spec(
    'advanced/rpc_call_canceling.md',
    'skip: The pending call is canceled and `ERROR` is sent immediately back to the caller. No `INTERRUPT` is sent to the callee and the result is discarded when received. (The case also accepts no ERROR, as Crossbar.io does.)',
  ),
  83: spec(
    'advanced/rpc_call_timeout.md',
    'A Dealer supporting this feature MUST start a timeout timer upon receiving a `CALL` message with a `timeout` option. […] The error message that is returned to the Caller MUST use `wamp.error.timeout` as the reason URI.',
  ),
  84: spec(
    'advanced/rpc_caller_identification.md',
    'A Caller MAY request the disclosure of its identity (its WAMP session ID) to endpoints of a routed call via `CALL.Options.disclose_me|bool := true`. […] the corresponding `INVOCATION` message MUST contain an `INVOCATION.Details.caller|id` property.',
  ),
  85: spec(
    'advanced/rpc_caller_identification.md',
    'A Callee MAY request the disclosure of caller identity via `REGISTER.Options.disclose_caller|bool := true` […] the corresponding `INVOCATION` message MUST contain an `INVOCATION.Details.caller|id` property.',
  ),
  86: spec(
    'advanced/rpc_pattern_based_registration.md',
    `When a prefix-matching policy is in place, any call with a procedure that has \`REGISTER.Procedure\` as a prefix will match the registration. ${PATTERN_PROCEDURE}`,
  ),
  87: spec(
    'advanced/rpc_pattern_based_registration.md',
    'The following algorithm MUST be applied to find a single RPC registration to which a call is routed: exact match first, then the longest prefix match, then a wildcard match; otherwise `wamp.error.no_such_procedure`.',
  ),
  88: spec(
    'advanced/rpc_shared_registration.md',
    "For 'roundrobin', callees are picked subsequently from the list of registrations (ordered by the order of registration), with the picking looping back to the beginning of the list once the end has been reached.",
  ),
  89: spec('advanced/rpc_shared_registration.md', SHARED),
  90: spec(
    'advanced/rpc_shared_registration.md',
    "For sets of registrations registered using either 'first' or 'last', the first respectively last callee on the current list of registrations (ordered by the order of registration) is called.",
  ),
  91: spec('advanced/meta_api_sessions.md', META_SESSION),
  92: spec('advanced/meta_api_sessions.md', META_SESSION),
  93: spec('advanced/meta_api_sessions.md', META_SESSION),
  94: spec('advanced/meta_api_sessions.md', META_SESSION),
  95: spec('advanced/meta_api_sessions.md', META_SESSION),
  96: spec('advanced/meta_api_sessions.md', META_SESSION),
  97: spec(
    'advanced/meta_api_subscriptions.md',
    'A `wamp.subscription.on_subscribe` event MUST always be fired subsequent to a `wamp.subscription.on_create` event, since the first subscribe results in both the creation of the subscription and the addition of a session.',
  ),
  98: spec(
    'advanced/meta_api_subscriptions.md',
    '`wamp.subscription.lookup`: Obtains the subscription (if any) managing a topic, according to some match policy. `wamp.subscription.count_subscribers`: Obtains the number of sessions currently attached to the subscription.',
  ),
  99: spec(
    'advanced/meta_api_registrations.md',
    'A `wamp.registration.on_register` event MUST be fired subsequent to a `wamp.registration.on_create` event […] the `wamp.registration.on_delete` event MUST be preceded by a `wamp.registration.on_unregister` event.',
  ),
  100: spec(
    'advanced/pubsub_testament.md',
    'When a Session is going to be destroyed, the Router will inspect it for any Testaments in the `destroyed` scope, and publish them in the same way as it would for the `detached` scope, in the order that they were received.',
  ),
  101: spec(SESSIONS, 'A Router MUST announce the roles it supports via `Welcome.Details.roles|dict`.'),
  102: practice(
    '§4.2',
    'Autobahn|JS `call().cancel()` sends CANCEL without a mode to a callee without `call_canceling` (a skip); a late ERROR or RESULT for it makes Autobahn|JS 26.x close the socket with 3002.',
  ),
  103: spec(
    PUBSUB,
    'If the Broker is able to fulfill and allowing the publication, and `PUBLISH.Options.acknowledge == true`, the Broker replies by sending a `PUBLISHED` message to the Publisher. (Wampy always publishes acknowledged.)',
  ),
  104: spec(
    RPC,
    'If the Callee is able to successfully process and finish the execution of the call, it answers by sending a `YIELD` message […] The Dealer will then send a `RESULT` message to the original Caller. (Every call of interleaved Autobahn|JS and Wampy callers settles exactly once.)',
  ),
};

/** The `secure` group: a router's secure defaults, not a spec rule (`--closed-realm`). */
export const SECURE_CITATION: WampCitation = {
  level: 'practice',
  source: 'reference/wamp.md §2.1 (Crossbar.io permissions) and DESIGN.md decision 14',
  text: `A realm can keep the meta API, pattern registrations and identity disclosure closed to roles it does not grant; an ungranted session gets ${'`wamp.error.not_authorized`'} (spec: "${NOT_AUTHORIZED}").`,
};

/** The `pgrt` group: pgrt's core bridge (adapters/wamp/core-bridge.ts). */
export const PGRT_CITATION: WampCitation = {
  level: 'pgrt',
  source: 'adapters/wamp/README.md (the core bridge) and adapters/wamp/core-bridge.ts',
  text: 'Core methods are procedures of the same name; publications are subscribed through `pgrt.subscribe` with a private per-session topic; `pgrt.*` is reserved.',
};

/** The SHOULD that follows a protocol violation's ABORT. */
export const DROP_AFTER_VIOLATION: WampCitation = spec(
  BB,
  'In all such cases WAMP implementations: […] 3. SHOULD also drop the WAMP connection at transport level (recommended to prevent denial of service attacks)',
  'should',
);

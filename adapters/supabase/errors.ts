/**
 * The errors of the Supabase Realtime adapter, and their one mapping to the wire. Supabase Realtime reports a
 * refused join as a `phx_reply` `{status: 'error', response: {reason: '<Code>: <message>'}}` and a channel it
 * shuts down as a `system` push `{extension: 'system', status: 'error', message, channel}` followed by
 * `phx_close` (RealtimeWeb.RealtimeChannel and its Logging module). The codes and messages below are the server's.
 */
import { isClientError } from '../../core/errors.js';

/** A refusal the client is told about: `code` is Supabase's error code, `message` its text. */
export class ChannelError extends Error {
  override readonly name = 'ChannelError';

  constructor(
    /** Supabase's code, e.g. `Unauthorized`, `TopicNameRequired`; the reply reason is `code: message`. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The reason as the client receives it. */
  get reason(): string {
    return `${this.code}: ${this.message}`;
  }
}

/** `TopicNameRequired`: a join to `realtime:` with nothing after it. */
export const topicNameRequired = (): ChannelError =>
  new ChannelError('TopicNameRequired', 'You must provide a topic name');

/** `Unauthorized`: the app's rules refuse this user the channel (or one of its tables). */
export const unauthorized = (subTopic: string): ChannelError =>
  new ChannelError(
    'Unauthorized',
    `You do not have permissions to read from this Channel topic: ${subTopic}`,
  );

/** `JwtSignatureError`: a JWT whose signature does not verify (or no secret is configured to verify it). */
export const jwtSignatureError = (): ChannelError =>
  new ChannelError('JwtSignatureError', 'Failed to validate JWT signature');

/** `MalformedJWT`: a token that looks like a JWT but does not parse. */
export const malformedJwt = (): ChannelError =>
  new ChannelError('MalformedJWT', 'The token provided is not a valid JWT');

/** `InvalidJWTToken`: an expired JWT. */
export const expiredJwt = (secondsAgo: number): ChannelError =>
  new ChannelError('InvalidJWTToken', `Token has expired ${secondsAgo} seconds ago`);

/** `ChannelRateLimitReached`: more channels joined at once than `maxChannels`. */
export const tooManyChannels = (): ChannelError =>
  new ChannelError('ChannelRateLimitReached', 'Too many channels');

/**
 * The join-reply reason of any error: a {@link ChannelError}'s own, a core client error's reason under
 * `Unauthorized` (a rule that threw a ClientError), else Supabase's generic `Unknown Error on Channel` (the caller
 * logs the error in full).
 */
export function toWireReason(error: unknown): string {
  if (error instanceof ChannelError) return error.reason;
  if (isClientError(error)) return `Unauthorized: ${error.reason ?? String(error.error)}`;
  return 'Unknown Error on Channel';
}

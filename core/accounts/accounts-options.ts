/**
 * The options of the accounts plug-in (`accounts(options)`), with Meteor's `Accounts.config` names where Meteor
 * has the option. docs/reference.md "Accounts" lists them with their defaults.
 */
import type { AccountEmailOptions } from './emails.js';
import type { LoginThrottleOptions } from './login-throttle.js';
import type { EmailDomainRule } from './user-creation.js';
import type { FieldSelector } from './user-documents.js';

/**
 * Options of `accounts()`. The email ones ({@link AccountEmailOptions}: `sendEmail`, `rootUrl`, `urls`,
 * `emailTemplates`) are needed only by the email flows; without them those fail with a ConfigurationError.
 */
export interface AccountsOptions extends AccountEmailOptions {
  /** Collection the current user is published into (default `users`, as Meteor clients expect). */
  readonly collection?: string;
  /** bcrypt rounds for new hashes; older hashes are re-hashed at their next login (default 10). */
  readonly bcryptRounds?: number;
  /** Resume tokens expire this many days after they were made (default 90). */
  readonly loginExpirationInDays?: number;
  /**
   * Meteor's `forbidClientAccountCreation`: the `createUser` method answers 403 "Signups forbidden" (through the
   * login hooks, as Meteor). Default false. The server API `createUser` is not affected.
   */
  readonly forbidClientAccountCreation?: boolean;
  /** Older name: `allowCreateUser: false` is `forbidClientAccountCreation: true`. */
  readonly allowCreateUser?: boolean;
  /**
   * Meteor's `restrictCreationByEmailDomain`: a new user (by `createUser` or an external service) needs an address
   * in this domain (`'school.edu'`: 403 "@school.edu email required") or one the function accepts (403 "Email
   * doesn't match the criteria.").
   */
  readonly restrictCreationByEmailDomain?: EmailDomainRule;
  /**
   * Meteor's `ambiguousErrorMessages` (default true, Meteor ≥ 3.0.3's default everywhere): every credentials
   * failure is 403 "Something went wrong. Please check your credentials."; false: Meteor's specific messages
   * ("User not found", "Incorrect password", "Username already exists.", …).
   */
  readonly ambiguousErrorMessages?: boolean;
  /**
   * Meteor's `defaultFieldSelector`: a top-level projection of the user documents hooks and `find…` helpers see;
   * when inclusive (`{plan: 1}`), those fields are also published to the logged-in user.
   */
  readonly defaultFieldSelector?: FieldSelector;
  /**
   * Extra columns of `pgrt.users`, name → SQL type (`{ plan: 'text', credits: 'integer NOT NULL DEFAULT 0' }`),
   * added at start when missing: the fields an `onCreateUser` hook may set beside Meteor's (user-documents.ts).
   * Being columns of the captured users table, they are live and publishable (`defaultFieldSelector`).
   */
  readonly userColumns?: Readonly<Record<string, string>>;
  /**
   * How often each process runs `expireTokens` and forgets the logins of closed connections, in ms (default
   * 600000, Meteor's `EXPIRE_TOKENS_INTERVAL_MS`; 0: never).
   */
  readonly expireTokensIntervalMs?: number;
  /** A reset link works this many days after it was made (default 3, Meteor's). */
  readonly passwordResetTokenExpirationInDays?: number;
  /** An enrollment link works this many days after it was made (default 30, Meteor's). */
  readonly passwordEnrollTokenExpirationInDays?: number;
  /**
   * The `createUser` method sends a verification email to the new user's address, or the enrollment email when
   * it has no password (Meteor's `Accounts.config({sendVerificationEmail: true})`); needs `sendEmail` and
   * `rootUrl` or `urls.verifyEmail`. Default false.
   */
  readonly sendVerificationEmail?: boolean;
  /**
   * Failed-login limits per user name, per client address and per both, shared by every process and both
   * protocols (login-throttle.ts; docs/security.md "Login throttling"). `false`: none. Default: on.
   */
  readonly loginThrottle?: LoginThrottleOptions | false;
}

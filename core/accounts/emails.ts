/**
 * The accounts emails (Meteor's accounts-password `Accounts.emailTemplates`, `Accounts.urls` and
 * `Accounts.generateOptionsForEmail`): the link in each email, the message built from a template, and the app's
 * `sendEmail` that delivers it. pgrt has no mail package: the app supplies `sendEmail` (nodemailer, an HTTP mail
 * API, a queue); without it every email is a {@link ConfigurationError}.
 *
 * Links, as Meteor's defaults relative to ROOT_URL: `<rootUrl>/#/reset-password/<token>`,
 * `<rootUrl>/#/verify-email/<token>`, `<rootUrl>/#/enroll-account/<token>`; an app replaces any of them with
 * `urls`. Templates: Meteor's subjects and texts; an app replaces any field of any template.
 */
import { ConfigurationError } from '../errors.js';

/** The three emails: a password reset, an account enrollment (first password), an address verification. */
export type AccountEmailKind = 'resetPassword' | 'enrollAccount' | 'verifyEmail';

/** What the plug-in hands to `sendEmail` (Meteor's `Email.send` options). */
export interface EmailMessage {
  readonly to: string;
  /** `emailTemplates.from` or the template's `from`; absent when neither is set (the transport's default). */
  readonly from?: string;
  readonly subject: string;
  readonly text?: string;
  readonly html?: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Delivers one email; its rejection fails the method or server call that asked for it. */
export type SendEmail = (message: EmailMessage) => Promise<void>;

/** The user an email is about, as templates see it (the published fields plus the id). */
export interface EmailUser {
  readonly id: string;
  readonly username: string | null;
  readonly emails: readonly { readonly address: string; readonly verified: boolean }[];
  readonly profile: Readonly<Record<string, unknown>>;
}

/** One part of a message, from the user and the link (may be async). */
export type EmailPart = (user: EmailUser, url: string) => string | Promise<string>;

/** A template: Meteor's `Accounts.emailTemplates.<kind>`. */
export interface EmailTemplate {
  readonly from?: (user: EmailUser) => string | Promise<string>;
  readonly subject: EmailPart;
  readonly text?: EmailPart;
  readonly html?: EmailPart;
}

/** Option `emailTemplates` of `accounts()`: each field replaces Meteor's default. */
export interface EmailTemplates {
  /** Sender of every email (Meteor's default `Accounts Example <no-reply@example.com>` is not copied). */
  readonly from?: string;
  /** Used by the default subjects; default: `rootUrl` without scheme and trailing slash, else the link's host. */
  readonly siteName?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly resetPassword?: Partial<EmailTemplate>;
  readonly enrollAccount?: Partial<EmailTemplate>;
  readonly verifyEmail?: Partial<EmailTemplate>;
}

/** Builds the link an email carries (Meteor's `Accounts.urls.<kind>(token, extraParams)`). */
export type EmailUrl = (token: string, extraParams?: Readonly<Record<string, string>>) => string;

/** Option `urls` of `accounts()`: each replaces the default built from `rootUrl`. */
export type EmailUrls = { readonly [kind in AccountEmailKind]?: EmailUrl };

/** The email options of `accounts()`. */
export interface AccountEmailOptions {
  readonly sendEmail?: SendEmail;
  /** Meteor's ROOT_URL: the base of the default links (`https://example.com` or `https://example.com/app`). */
  readonly rootUrl?: string;
  readonly urls?: EmailUrls;
  readonly emailTemplates?: EmailTemplates;
}

/** The path of each default link, as Meteor's `Accounts.urls`. */
const LINK_PATHS: Readonly<Record<AccountEmailKind, string>> = {
  resetPassword: '#/reset-password/',
  verifyEmail: '#/verify-email/',
  enrollAccount: '#/enroll-account/',
};

/** Meteor's `greet(welcomeMsg)` text template. */
function greet(welcome: string): EmailPart {
  return (user, url) => {
    const name = user.profile.name;
    const greeting = typeof name === 'string' && name !== '' ? `Hello ${name},` : 'Hello,';
    return `${greeting}\n\n${welcome}, simply click the link below.\n\n${url}\n\nThank you.\n`;
  };
}

/** Meteor's default templates, given the site name. */
function defaultTemplate(kind: AccountEmailKind, siteName: string): EmailTemplate {
  switch (kind) {
    case 'resetPassword':
      return {
        subject: () => `How to reset your password on ${siteName}`,
        text: greet('To reset your password'),
      };
    case 'verifyEmail':
      return {
        subject: () => `How to verify email address on ${siteName}`,
        text: greet('To verify your account email'),
      };
    case 'enrollAccount':
      return {
        subject: () => `An account has been created for you on ${siteName}`,
        text: greet('To start using the service'),
      };
  }
}

/** The accounts emails of one plug-in: links, messages, delivery. */
export class AccountEmails {
  readonly #sendEmail: SendEmail | undefined;
  readonly #rootUrl: string | undefined;
  readonly #urls: EmailUrls;
  readonly #templates: EmailTemplates;

  constructor(options: AccountEmailOptions = {}) {
    this.#sendEmail = options.sendEmail;
    this.#urls = options.urls ?? {};
    this.#templates = options.emailTemplates ?? {};
    if (options.rootUrl !== undefined) {
      if (!URL.canParse(options.rootUrl))
        throw new ConfigurationError(`rootUrl is not a URL: ${options.rootUrl}`);
      // Meteor.absoluteUrl: the root with exactly one trailing slash.
      this.#rootUrl = options.rootUrl.replace(/\/*$/, '/');
    }
  }

  /**
   * Throws a {@link ConfigurationError} unless an email of `kind` can be sent: `sendEmail` is set and the link
   * can be built. Called before anything is looked up or stored, so a misconfigured server fails every call alike.
   */
  assertConfigured(kind: AccountEmailKind): void {
    if (!this.#sendEmail)
      throw new ConfigurationError(
        `accounts: cannot send the ${kind} email: the accounts() option sendEmail is not set`,
      );
    if (!this.#urls[kind] && this.#rootUrl === undefined)
      throw new ConfigurationError(
        `accounts: cannot build the ${kind} link: set the accounts() option rootUrl or urls.${kind}`,
      );
  }

  /** The link carrying `token`; `extraParams` become query parameters (Meteor's `buildEmailUrl`). */
  url(kind: AccountEmailKind, token: string, extraParams: Readonly<Record<string, string>> = {}): string {
    const custom = this.#urls[kind];
    if (custom) return custom(token, extraParams);
    this.assertConfigured(kind);
    const url = new URL(`${this.#rootUrl}${LINK_PATHS[kind]}${token}`);
    for (const [key, value] of Object.entries(extraParams)) url.searchParams.append(key, value);
    return url.toString();
  }

  /** The message of `kind` to `to` (Meteor's `generateOptionsForEmail`): the app's template fields first. */
  async message(kind: AccountEmailKind, to: string, user: EmailUser, url: string): Promise<EmailMessage> {
    const custom = this.#templates[kind] ?? {};
    const fallback = defaultTemplate(kind, this.#siteName(url));
    const from = custom.from ? await custom.from(user) : this.#templates.from;
    const text = custom.text ?? fallback.text;
    const html = custom.html ?? fallback.html;
    const headers = this.#templates.headers;
    return {
      to,
      ...(from === undefined ? {} : { from }),
      subject: await (custom.subject ?? fallback.subject)(user, url),
      ...(text === undefined ? {} : { text: await text(user, url) }),
      ...(html === undefined ? {} : { html: await html(user, url) }),
      ...(headers === undefined ? {} : { headers }),
    };
  }

  /** Hands `message` to the app's `sendEmail`. */
  async send(message: EmailMessage): Promise<void> {
    const sendEmail = this.#sendEmail;
    if (!sendEmail) throw new ConfigurationError('accounts: the accounts() option sendEmail is not set');
    await sendEmail(message);
  }

  #siteName(url: string): string {
    if (this.#templates.siteName !== undefined) return this.#templates.siteName;
    if (this.#rootUrl !== undefined) return this.#rootUrl.replace(/^https?:\/\//, '').replace(/\/$/, '');
    return URL.canParse(url) ? new URL(url).host : '';
  }
}

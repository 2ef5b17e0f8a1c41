/**
 * The end-of-login pages the provider's redirect lands on (Meteor's oauth `end_of_popup_response` and
 * `end_of_redirect_response`), with the behaviour Meteor's client expects:
 *
 * - popup: the credential secret goes to the opener, `window.opener.Package.oauth.OAuth._handleCredentialSecret(
 *   credentialToken, credentialSecret)` when the opener has Meteor's oauth package, else into
 *   `localStorage['Meteor.oauth.credentialSecret-' + credentialToken]` (read by `OAuth._retrieveCredentialSecret`
 *   after the popup closed); then the popup closes itself. Cordova: the credentials also go into the URL hash as
 *   JSON `{credentialToken, credentialSecret}` and the window stays open (the app's in-app browser reads it).
 * - redirect: the secret goes into `sessionStorage['Meteor.oauth.credentialSecret-' + credentialToken]` and the
 *   window goes back to the state's `redirectUrl`, where Meteor's client finishes the login at startup.
 *
 * A failed login gets the same page without credentials (the popup still closes, the redirect still returns).
 * The scripts are served as files (`<prefix>/_oauth/end_of_popup_response.js`, `…redirect…`), not inline, so a
 * `script-src 'self'` Content-Security-Policy allows them; the page's own CSP allows nothing else. The data sits
 * in a `<script type="application/json">` element (not executed; `<` escaped), unlike Meteor's HTML-escaped
 * `<div>`, so no value needs un-escaping. The pages are never cached and send no referrer.
 */
import type { HttpResponse } from '../../http-route.js';
import type { LoginStyle } from './state.js';

/** Meteor's `OAuth._storageTokenPrefix`. */
export const STORAGE_TOKEN_PREFIX = 'Meteor.oauth.credentialSecret-';
/** The file names of the page scripts under `<prefix>/_oauth/`. */
export const POPUP_SCRIPT = 'end_of_popup_response.js';
export const REDIRECT_SCRIPT = 'end_of_redirect_response.js';

/** What an end-of-login page does. */
export interface EndOfLogin {
  readonly loginStyle: LoginStyle;
  /** Present when the login succeeded (both checked safe: letters, digits, `-`, `_`). */
  readonly credentials?: { readonly token: string; readonly secret: string };
  /** Redirect style: where the window returns. */
  readonly redirectUrl?: string;
  readonly isCordova: boolean;
  /** HTTP status (200 unless the request itself was refused). */
  readonly status?: number;
}

const SECURITY_HEADERS = {
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

/** The end-of-login page; `scriptBase` is `<prefix>/_oauth/`. */
export function endOfLoginPage(details: EndOfLogin, scriptBase: string): HttpResponse {
  const config = {
    setCredentialToken: details.credentials !== undefined,
    credentialToken: details.credentials?.token,
    credentialSecret: details.credentials?.secret,
    storagePrefix: STORAGE_TOKEN_PREFIX,
    redirectUrl: details.redirectUrl,
    isCordova: details.isCordova,
  };
  const json = JSON.stringify(config)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026');
  const popup = details.loginStyle === 'popup';
  const script = `${scriptBase}${popup ? POPUP_SCRIPT : REDIRECT_SCRIPT}`;
  const text = details.credentials ? 'Login completed.' : 'Login failed.';
  const body = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>${text}</title></head>
<body>
  <p id="completedText" hidden>${text} <a href="#" id="loginCompleted">Click here</a> to close this window.</p>
  <script type="application/json" id="config">${json}</script>
  <script src="${escapeAttribute(script)}"></script>
</body>
</html>
`;
  return {
    status: details.status ?? 200,
    headers: {
      ...SECURITY_HEADERS,
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': "default-src 'none'; script-src 'self'; frame-ancestors 'none'",
    },
    body,
  };
}

/** The page script `name` ({@link POPUP_SCRIPT} or {@link REDIRECT_SCRIPT}), or undefined. */
export function pageScript(name: string): HttpResponse | undefined {
  const body = name === POPUP_SCRIPT ? POPUP_JS : name === REDIRECT_SCRIPT ? REDIRECT_JS : undefined;
  if (body === undefined) return undefined;
  return {
    status: 200,
    headers: {
      'content-type': 'text/javascript; charset=utf-8',
      'cache-control': 'public, max-age=3600',
      'x-content-type-options': 'nosniff',
    },
    body,
  };
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
}

/** Runs in the popup (ES5: any browser Meteor supports). */
const POPUP_JS = `(function () {
  var config = JSON.parse(document.getElementById('config').textContent);
  if (config.setCredentialToken) {
    var token = config.credentialToken;
    var secret = config.credentialSecret;
    if (config.isCordova) {
      window.location.hash = JSON.stringify({ credentialToken: token, credentialSecret: secret });
    }
    var handed = false;
    try {
      var opener = window.opener;
      if (opener && opener.Package && opener.Package.oauth) {
        opener.Package.oauth.OAuth._handleCredentialSecret(token, secret);
        handed = true;
      }
    } catch (e) {
      // An opener on another origin (or none): the secret goes through localStorage instead.
    }
    if (!handed) {
      try {
        window.localStorage.setItem(config.storagePrefix + token, secret);
      } catch (e) {
        // No storage: nothing more can be done; the popup still closes.
      }
    }
  }
  if (!config.isCordova) {
    document.getElementById('completedText').hidden = false;
    document.getElementById('loginCompleted').onclick = function () {
      window.close();
      return false;
    };
    window.close();
  }
})();
`;

/** Runs in the app's own window before it returns to the app (redirect style). */
const REDIRECT_JS = `(function () {
  var config = JSON.parse(document.getElementById('config').textContent);
  if (config.setCredentialToken) {
    try {
      window.sessionStorage.setItem(config.storagePrefix + config.credentialToken, config.credentialSecret);
    } catch (e) {
      // No storage: the app's login call then fails as cancelled.
    }
  }
  if (config.redirectUrl) window.location.replace(config.redirectUrl);
})();
`;

/**
 * Revoked login tokens log their live connections out, on every process sharing the database, in every capture
 * mode (accounts.ts "Revocation"; Meteor's `_setLoginToken` observe). Two cores on one database and one channel
 * play two server processes; sessions have recording outputs (no sockets).
 */
import assert from 'node:assert/strict';
import { App } from '../../core/app.js';
import type { CaptureModeName as CaptureMode } from '../../core/capture/capture-mode.js';
import { PrivatePostgres } from '../../test/fixtures/private-postgres.js';
import { waitUntil } from '../../test/fixtures/wait.js';
import { startTestCore, type TestCore } from '../../test/support/core.js';
import { testDatabaseUrl } from '../../test/support/database.js';
import { RecordingOutput } from '../../test/support/recording-output.js';
import type { ConnectionInfo } from '../contexts.js';
import { ClientError } from '../errors.js';
import type { Session } from '../session.js';
import { type Accounts, accounts, type LoginResult } from './accounts.js';

const LOGGED_OUT = "You've been logged out by the server. Please log in again.";

/** An app with nothing but accounts and a method telling who the caller is. */
function whoamiApp(store: Accounts): App {
  return new App().use(store).method('whoami', (ctx) => ctx.userId);
}

interface Client {
  readonly session: Session;
  readonly out: RecordingOutput;
  readonly t: TestCore;
}

for (const capture of ['notify', 'outbox', 'logical'] as const satisfies readonly CaptureMode[]) {
  describe(`revoked login tokens log their connections out on every process (${capture} mode)`, function () {
    this.timeout(60_000);
    let logical: PrivatePostgres | undefined;
    let a: TestCore;
    let b: TestCore;
    let storeA: Accounts;
    const name = (base: string) => `${base}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;

    before(async () => {
      if (capture === 'logical') logical = await PrivatePostgres.create('logical');
      const url = logical?.url ?? testDatabaseUrl();
      const channel = `pgrt_revoke_${process.pid}_${capture}`;
      storeA = accounts({ bcryptRounds: 4 });
      const options = { capture, url, rateLimits: false } as const;
      a = await startTestCore(whoamiApp(storeA), async () => {}, channel, options);
      b = await startTestCore(whoamiApp(accounts({ bcryptRounds: 4 })), async () => {}, channel, options);
    });
    after(async () => {
      await b?.close();
      await a?.close();
      await logical?.destroy();
    });

    /** A session on `t` with its universal publications (the current user in `users`) running. */
    async function connect(t: TestCore): Promise<Client> {
      const { session, out } = t.session();
      await session.startUniversal();
      return { session, out, t };
    }
    const call = (c: Client, method: string, ...params: unknown[]) =>
      c.t.call(c.session, c.out, method, ...params);
    const login = async (c: Client, username: string, password = 'pw') =>
      (await call(c, 'login', { user: { username }, password })) as LoginResult;
    const resume = async (c: Client, token: string) =>
      (await call(c, 'login', { resume: token })) as LoginResult;
    const loggedOut = (...clients: Client[]) =>
      waitUntil(() => clients.every((c) => c.session.userId === null), {
        what: () => `logged out: ${clients.map((c) => c.session.userId).join(', ')}`,
      });
    async function refusedResume(t: TestCore, token: string): Promise<void> {
      const c = await connect(t);
      const error = await resume(c, token).catch((e: unknown) => e);
      assert.ok(error instanceof ClientError);
      assert.deepEqual([error.error, error.reason], [403, LOGGED_OUT]);
      c.session.close();
    }

    it('changePassword logs out the other connections on both processes; the caller and its token stay', async () => {
      const username = name('carol');
      const id = await storeA.createUser({ username, password: 'pw' });
      const caller = await connect(a);
      const sameProcess = await connect(a);
      const otherProcess = await connect(b);
      const sharesCallerToken = await connect(b);
      const { token } = await login(caller, username);
      const { token: sameToken } = await login(sameProcess, username);
      const { token: otherToken } = await login(otherProcess, username);
      await resume(sharesCallerToken, token);
      for (const c of [caller, sameProcess, otherProcess, sharesCallerToken]) {
        assert.equal(c.session.userId, id);
        assert.ok(c.out.collection('users')[id], 'the user is published before');
      }
      const callerMessages = caller.out.messages.length;

      assert.deepEqual(await call(caller, 'changePassword', 'pw', 'pw2'), { passwordChanged: true });
      await loggedOut(sameProcess, otherProcess);
      for (const c of [sameProcess, otherProcess]) {
        assert.equal(c.out.collection('users')[id], undefined, 'the user document was removed');
        assert.equal(await call(c, 'whoami'), null, 'methods run without a user');
      }
      // Their re-checks ran in the same batches as these: the caller and the connection sharing its token stay.
      assert.equal(caller.session.userId, id);
      assert.equal(sharesCallerToken.session.userId, id);
      assert.equal(await call(sharesCallerToken, 'whoami'), id);
      // The revocation counter's update publishes nothing (it is not a published field).
      assert.deepEqual(
        caller.out.messages.slice(callerMessages).filter((m) => m.msg !== 'result' && m.msg !== 'updated'),
        [],
      );
      await refusedResume(a, sameToken);
      await refusedResume(b, otherToken);
      assert.equal((await resume(await connect(b), token)).id, id, "the caller's token still resumes");
    });

    it('logoutOtherClients (getNewToken, removeOtherTokens) and logout reach the sharers of the old token', async () => {
      const username = name('dave');
      const id = await storeA.createUser({ username, password: 'pw' });
      const caller = await connect(a);
      const oldTokenElsewhere = await connect(b);
      const { token: old } = await login(caller, username);
      await resume(oldTokenElsewhere, old);
      const renewed = (await call(caller, 'getNewToken')) as LoginResult;
      await call(caller, 'removeOtherTokens');
      await loggedOut(oldTokenElsewhere);
      assert.equal(caller.session.userId, id);
      assert.equal(await call(caller, 'whoami'), id);
      await refusedResume(b, old);

      // logout destroys the caller's token: another connection using it is logged out too (Meteor's tabs).
      const tab = await connect(b);
      await resume(tab, renewed.token);
      await call(caller, 'logout');
      await loggedOut(caller, tab);
      assert.equal(tab.out.collection('users')[id], undefined);
    });

    it('the expiry sweep and a deleted user log their connections out', async () => {
      const expiring = name('erin');
      const erinId = await storeA.createUser({ username: expiring, password: 'pw' });
      const erin = await connect(b);
      const { token } = await login(erin, expiring);
      await a.db.query(
        `UPDATE pgrt.login_tokens SET "when" = now() - interval '91 days' WHERE user_id = $1`,
        [erinId],
      );
      assert.equal(erin.session.userId, erinId, 'an expired token is only acted on by the sweep');
      assert.ok((await storeA.expireTokens()) >= 1);
      await loggedOut(erin);
      await refusedResume(a, token);

      const doomed = name('frank');
      const frankId = await storeA.createUser({ username: doomed, password: 'pw' });
      const byToken = await connect(a);
      await login(byToken, doomed);
      // As a WAMP password or WAMP-CRA session opens: a user without a token.
      const info: ConnectionInfo = {
        id: name('wamp'),
        protocol: 'test',
        clientAddress: '::1',
        httpHeaders: {},
      };
      const out = new RecordingOutput();
      const withoutToken = { session: b.core.openSession(info, out, frankId), out, t: b };
      await a.db.query('DELETE FROM pgrt.users WHERE id = $1', [frankId]);
      await loggedOut(byToken, withoutToken);
    });
  });
}

// One request of a Node app, for the live interop tests (tests/integration/node_interop.rs).
//
//   node interop.mjs <storage> <secret> <cookie header> [dir]
//
// storage: rr-cookie  React Router 8's createCookieSessionStorage
//          rr-file    @react-router/node's createFileSessionStorage in [dir]
//          remix-fs   Remix 3's createFsSessionStorage in [dir], @remix-run/cookie
//
// The request reads `count`, `user` and the flash `notice`, then sets count + 1,
// logs in as `user` = "grace" (if nobody is), flashes notice = "from node", and saves.
// It prints one JSON line: what it saw, and the Set-Cookie it answered with.

import { createCookie, createCookieSessionStorage } from 'react-router';

const [storageKind, secret, cookieHeader, dir] = process.argv.slice(2);
const options = { secrets: [secret], httpOnly: true, secure: true, sameSite: 'lax', path: '/' };

async function reactRouter(storage) {
  const session = await storage.getSession(cookieHeader || null);
  const seen = { count: session.get('count') ?? null, user: session.get('user') ?? null, notice: session.get('notice') ?? null };
  session.set('count', (seen.count ?? 0) + 1);
  if (!seen.user) session.set('user', 'grace');
  session.flash('notice', 'from node');
  return { seen, setCookie: await storage.commitSession(session) };
}

async function remix3() {
  const { createCookie: createRemixCookie } = await import('@remix-run/cookie');
  const { createFsSessionStorage } = await import('@remix-run/session/fs-storage');
  const cookie = createRemixCookie('__session', options);
  const storage = createFsSessionStorage(dir);
  const session = await storage.read(await cookie.parse(cookieHeader || null));
  const seen = { count: session.get('count') ?? null, user: session.get('user') ?? null, notice: session.get('notice') ?? null };
  session.set('count', (seen.count ?? 0) + 1);
  if (!seen.user) session.set('user', 'grace');
  session.flash('notice', 'from node');
  const value = await storage.save(session);
  return { seen, setCookie: value === null ? null : await cookie.serialize(value) };
}

let result;
switch (storageKind) {
  case 'rr-cookie':
    result = await reactRouter(createCookieSessionStorage({ cookie: createCookie('__session', options) }));
    break;
  case 'rr-file': {
    const { createFileSessionStorage } = await import('@react-router/node');
    result = await reactRouter(createFileSessionStorage({ dir, cookie: createCookie('__session', options) }));
    break;
  }
  case 'remix-fs':
    result = await remix3();
    break;
  default:
    throw new Error(`unknown storage ${storageKind}`);
}
process.stdout.write(JSON.stringify(result) + '\n');

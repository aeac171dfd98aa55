// The seed's counter, dashboard and login on Remix's own packages, for scripts/bench.
// Usage: node server.js memory|cookie PORT
import * as http from 'node:http'
import { createCookie } from '@remix-run/cookie'
import { createRouter } from '@remix-run/fetch-router'
import { createRequestListener } from '@remix-run/node-fetch-server'
import { Session } from '@remix-run/session'
import { createCookieSessionStorage } from '@remix-run/session/cookie-storage'
import { createMemorySessionStorage } from '@remix-run/session/memory-storage'
import { session } from '@remix-run/session-middleware'

let [storageKind, port] = process.argv.slice(2)
let cookie = createCookie('__session', {
  secrets: ['a benchmark secret that is at least thirty-two bytes'],
  httpOnly: true,
  sameSite: 'lax',
})
let storage = storageKind === 'memory' ? createMemorySessionStorage() : createCookieSessionStorage()
let router = createRouter({ middleware: [session(cookie, storage)] })

router.get('/', ({ get }) => {
  let s = get(Session)
  s.set('count', Number(s.get('count') ?? 0) + 1)
  return new Response(`Count: ${s.get('count')}`)
})
router.get('/dashboard', ({ get }) => {
  let userId = get(Session).get('userId')
  return new Response(`<h1>Dashboard for user ${userId}</h1>`, {
    headers: { 'Content-Type': 'text/html' },
  })
})
router.post('/login', ({ get }) => {
  let s = get(Session)
  s.regenerateId(true)
  s.set('userId', 1)
  return new Response('ok')
})
router.get('/untouched', () => new Response('ok'))

http
  .createServer(createRequestListener((request) => router.fetch(request)))
  .listen(Number(port), '127.0.0.1')

// Compiled by `tsc` in `npm run lint`: leakproof/http's declarations as a node:http listener, Connect-style middleware and in a Fastify hook.
import { adminHandler, MIN_TOKEN_LENGTH, type AdminHandler } from 'leakproof/http'
import { watch } from 'leakproof'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import Fastify from 'fastify'

const token = process.env.LEAKPROOF_ADMIN_TOKEN ?? ''
const admin: AdminHandler = adminHandler({ token, prefix: '/ops/leakproof', maxFailuresPerAddress: 5, failureWindowMs: 30_000 })
createServer(admin).listen(9464, '127.0.0.1')
createServer((req, res) => admin(req, res))

// Express and Connect take middleware of this shape (express@4 ships no types).
type Middleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void
const middleware: Middleware[] = [admin, adminHandler({ token, watcher: watch() })]

const fastify = Fastify()
fastify.addHook('onRequest', (request, reply, done) => {
  let passed = false
  admin(request.raw, reply.raw, () => { passed = true })
  if (passed) return done()
  reply.hijack()
})

console.log(MIN_TOKEN_LENGTH.toFixed(0), middleware.length)
// @ts-expect-error: the token is required
adminHandler({ prefix: '/leakproof' })
// @ts-expect-error: a token is a string
adminHandler({ token: 1234567890123456 })

'use strict'

/**
 * The line that made a holder the census counts as many roots of one kind (sockets, timers:
 * no collection holds them), from the allocation sites ranked for the same leak.
 */
const { siteThatMade } = require('../sites/growth')

/** The class of each of many roots the census counts (`holder.kind`): a handle's own, a timer list's Timeout. */
const MANY_ROOTS_CLASS = { handles: (holder) => holder.className, timers: () => 'Timeout' }

/**
 * `suspects` where the census' holders that are many roots of one kind (sockets, timers: no
 * collection holds them) have the line that made them, from the sites ranking's `sites`
 * (`siteThatMade`): `madeAt`, and `made in openUpstream (/srv/app.js:40)` in the holder's
 * description. Others, and those that have it, are given back as they are.
 */
function withWhereMade(suspects, sites) {
  return suspects.map((suspect) => {
    const classOf = MANY_ROOTS_CLASS[suspect.holder.kind]
    const madeAt = classOf === undefined || suspect.madeAt !== null ? null : siteThatMade(sites, classOf(suspect.holder))
    if (madeAt === null) return suspect
    const built = madeAt.generated === undefined ? '' : `, built: ${madeAt.generated.url}:${madeAt.generated.line}`
    const description = `${suspect.holder.description}, made in ${madeAt.functionName} (${madeAt.url}:${madeAt.line}${built})`
    return { ...suspect, madeAt, holder: { ...suspect.holder, description } }
  })
}

module.exports = { withWhereMade }

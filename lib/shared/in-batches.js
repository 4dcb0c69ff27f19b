'use strict'

/**
 * `mapInBatches(items, size, fn)`: `fn` over `items`, `size` at a time, the results in the
 * items' order. For reading many directories or files, where one at a time leaves the disk
 * and the CPU idle between them, and all at once opens too many files.
 * @template T, R
 * @param {T[]} items
 * @param {number} size items in flight at once (at least 1)
 * @param {(item: T, index: number) => Promise<R>} fn
 * @param {{ before?: (index: number) => boolean }} [options] `before(index)`: asked before each
 *   batch; false stops there, and the results end with the batches read so far
 * @returns {Promise<R[]>}
 */
async function mapInBatches(items, size, fn, { before = () => true } = {}) {
  const results = []
  for (let start = 0; start < items.length; start += size) {
    if (!before(start)) break
    results.push(...(await Promise.all(items.slice(start, start + size).map((item, i) => fn(item, start + i)))))
  }
  return results
}

module.exports = { mapInBatches }

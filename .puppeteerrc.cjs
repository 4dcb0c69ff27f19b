// memlab (a devDependency, measured against in the analyzer's tests and benchmark) pulls
// in puppeteer, whose install would download a browser: not needed here, and not possible
// without internet. Puppeteer reads this file from the project root.
module.exports = { skipDownload: true }

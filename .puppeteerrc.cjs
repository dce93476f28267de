// puppeteer never downloads a browser here: the webjs engine launches Debian's chromium
// (CHROME_EXECUTABLE_PATH, default /usr/bin/chromium). Read by puppeteer's install step, so that
// a plain `npm ci` works without PUPPETEER_SKIP_DOWNLOAD=true in the environment.
module.exports = { skipDownload: true };

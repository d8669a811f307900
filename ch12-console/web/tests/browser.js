// browser.js — one browser test step against a running mqconsole, driven by
// ch12-console/tests/test_web.c (which starts the name server, broker and console and puts the
// cluster in the state each step expects).
//
//   node browser.js PORT SHOTS_DIR STEP [ARGS...]
//     pages               every page loads with no console error; both message tables agree
//     topic TOPIC         the topic list shows TOPIC
//     lag GROUP N         GROUP's page shows a total lag of N
//     dlq GROUP           GROUP's first dead letter is resent from the DLQ page
//     message TOPIC KEY BODY  a search by key finds the message; its detail shows BODY
//     login USER PASSWORD a console with a login shows the login page, then the dashboard
//
// Debian's chromium (apt package `chromium`) runs headless through playwright-core; no browser
// is downloaded. Exit status 0 = passed; otherwise the reason is on stderr.
import { chromium } from 'playwright-core'
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { messages } from '../src/i18n.js'

const [port, shots, step, ...args] = process.argv.slice(2)
if (!port || !shots || !step) {
  console.error('usage: node browser.js PORT SHOTS_DIR STEP [ARGS...]')
  process.exit(2)
}
const base = `http://127.0.0.1:${port}/`
const chromiumPath = process.env.RK_CHROMIUM || '/usr/bin/chromium'
mkdirSync(shots, { recursive: true })

function fail(msg) { throw new Error(msg) }

// Polls fn (returning true when done) for up to ms; `what` names it in the failure.
async function until(what, fn, ms = 10000) {
  const end = Date.now() + ms
  let last
  while (Date.now() < end) {
    try { if (await fn()) return } catch (e) { last = e }
    await new Promise((r) => setTimeout(r, 250))
  }
  fail(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`)
}

async function openPage(context, errors) {
  const page = context.pages()[0] || await context.newPage()
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`) })
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`))
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText}`))
  return page
}

async function visit(page, hash) {
  await page.goto(base + hash, { waitUntil: 'networkidle' })
  await page.waitForSelector('.el-menu')
}

const steps = {
  async pages(page, errors) {
    const en = Object.keys(messages.en).sort().join()
    const zh = Object.keys(messages.zh).sort().join()
    if (en !== zh) fail('the English and Chinese message tables have different keys')
    const names = ['dashboard', 'cluster', 'topics', 'groups', 'messages', 'dlq', 'pending', 'connections']
    for (const name of names) {
      await visit(page, '#/' + name)
      const title = await page.textContent('.el-header h2')
      if (title.trim() !== messages.en['page.' + name]) fail(`#/${name}: title "${title}"`)
      if (name === 'dashboard') {
        // the test sends messages meanwhile: the live figures must show them
        await page.waitForSelector('[data-test=tps-chart] canvas')
        await until('a produce TPS above 0 on the dashboard', async () =>
          parseFloat(await page.textContent('[data-test=card-produce] .value')) > 0, 20000)
        await page.waitForTimeout(6000)     // a few more points on the chart for the screenshot
      }
      if (name === 'cluster') await page.waitForSelector('[data-test=brokers] .el-table__row')
      await page.screenshot({ path: join(shots, `${name}.png`) })
      if (errors.length) fail(`#/${name}: ${errors.join('; ')}`)
    }
    // 中文: the switch re-renders the page in Chinese
    await visit(page, '#/dashboard')
    await page.click('[data-test=lang] >> text=中文')
    await until('the Chinese title', async () => (await page.textContent('.el-header h2')).trim() === messages.zh['page.dashboard'])
    await page.waitForTimeout(2500)
    await page.screenshot({ path: join(shots, 'dashboard-zh.png') })
    await page.click('[data-test=lang] >> text=English')
  },

  async topic(page, errors, [topic]) {
    await visit(page, '#/topics')
    await page.fill(':is(input[data-test=filter], [data-test=filter] input)', topic)
    await page.press(':is(input[data-test=filter], [data-test=filter] input)', 'Enter')
    await until(`${topic} in the topic list`, async () =>
      (await page.locator('[data-test=topics] .el-table__row td:first-child').allTextContents()).map((s) => s.trim()).includes(topic))
    await page.screenshot({ path: join(shots, 'topics.png') })
  },

  async lag(page, errors, [group, want]) {
    await visit(page, '#/groups/' + encodeURIComponent(group))
    let seen = ''
    await until(`a total lag of ${want} for ${group}`, async () => {
      await page.click('[data-test=detail-refresh]')
      await page.waitForLoadState('networkidle')
      seen = (await page.textContent('[data-test=diff-total]')).trim()
      return seen === String(want)
    }).catch((e) => fail(`${e.message} (page shows ${seen})`))
    await page.screenshot({ path: join(shots, `groups-lag-${want}.png`) })
  },

  async dlq(page, errors, [group]) {
    await visit(page, '#/dlq/' + encodeURIComponent(group))
    const button = page.locator('[data-test=dlq] button[data-test^=resend-]').first()
    await button.waitFor({ timeout: 10000 })
    await page.screenshot({ path: join(shots, 'dlq.png') })
    await button.click()
    await page.waitForSelector('.rk-resent', { timeout: 10000 })
    const text = await page.textContent('.rk-resent')
    if (!text.includes('1 message')) fail(`after resend the page says "${text}"`)
  },
}

steps.message = async (page, errors, [topic, key, body]) => {
  await visit(page, '#/messages')
  await page.click('#tab-key')
  await page.fill(':is(input[data-test=msg-topic], [data-test=msg-topic] input)', topic)
  await page.fill(':is(input[data-test=msg-key], [data-test=msg-key] input)', key)
  await page.click('button[data-test=msg-search]')
  const row = page.locator('[data-test=messages] .el-table__row').first()
  await row.waitFor({ timeout: 10000 })
  await row.click()
  await until('the message body in its detail', async () =>
    (await page.textContent('[data-test=msg-body]')).includes(body))
  await page.waitForTimeout(500)       // the dialog's opening animation
  await page.screenshot({ path: join(shots, 'message-detail.png') })
}

steps.login = async (page, errors, [user, password]) => {
  await page.goto(base, { waitUntil: 'networkidle' })
  await page.waitForSelector('[data-test=login]')
  if (await page.locator('.el-menu').count()) fail('the pages show before logging in')
  await page.screenshot({ path: join(shots, 'login.png') })
  await page.fill(':is(input[data-test=username], [data-test=username] input)', user)
  await page.fill(':is(input[data-test=password], [data-test=password] input)', password)
  await page.click('button[data-test=login]')
  await page.waitForSelector('.el-menu')
  await until('the dashboard after logging in', async () =>
    (await page.textContent('.el-header h2')).trim() === messages.en['page.dashboard'])
  await page.waitForLoadState('networkidle')
}

if (!steps[step]) { console.error(`unknown step ${step}`); process.exit(2) }

// A fresh profile (--user-data-dir, given by playwright from the first argument) per run, and
// no background connections: without these flags chromium waits on connections to Google's
// services, which a closed network never answers.
const profile = mkdtempSync(join(tmpdir(), 'rk-chromium-'))
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1400, height: 860 },
  locale: 'en-US',
  timeout: 30000,
})
let status = 0
try {
  const errors = []
  const page = await openPage(browser, errors)
  page.setDefaultTimeout(15000)
  await steps[step](page, errors, args)
  if (errors.length) fail(errors.join('; '))
} catch (e) {
  console.error(`browser step ${step}: ${e.message}`)
  status = 1
} finally {
  await browser.close()
  rmSync(profile, { recursive: true, force: true })
}
process.exit(status)

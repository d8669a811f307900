'use strict';
// Conformance, chapter 8: ali-ons (a pure-JavaScript RocketMQ 4.x client) keeps
// producing while run.sh kill -9s the elected master of a three-replica group.
//
//   1. The ali-ons Producer sends one message every INTERVAL_MS, one at a time,
//      and appends a line per send to SENDS_FILE ("OK <ms> <body>" for SEND_OK,
//      "FAIL <ms> <why>" otherwise), so run.sh can see sends succeed before it
//      kills the master. run.sh writes the kill time (ms since the epoch) to
//      KILL_FILE right after kill -9.
//   2. It stops after DURATION_MS, and not before RECOVER_MS has passed since
//      the kill (or sends are OK again for a while): sends must be SEND_OK again
//      within RECOVER_MS of the kill. Failed sends in between are counted, not
//      errors: the client sends to a dead address until its route refresh
//      (pollNameServerInteval, ali-ons' spelling) shows the new master.
//   3. A new ali-ons push Consumer (own group, CONSUME_FROM_FIRST_OFFSET) must
//      receive every body that got SEND_OK (extra ones sent during the switch
//      without an acknowledgement may arrive too; they are counted).
//
// Environment:
//   NAMESRV, TOPIC (required); SENDS_FILE, KILL_FILE (required)
//   RUN_ID       body prefix (default pid + time)
//   INTERVAL_MS  pause between sends (default 20)
//   DURATION_MS  how long to produce at least (default 15000)
//   RECOVER_MS   bound on kill -> first SEND_OK (default 10000)
//   KILL_WAIT_MS how long to wait for KILL_FILE (default 60000)
//   POLL_MS      ali-ons' route refresh period (default 1000; its own default is 30 s)
//   TIMEOUT_MS   how long to wait for the consumer (default 30000)
//   ONS_LOG      ali-ons' warnings and errors go there (default: stderr)
// Prints one summary line; exit 0 on success, 1 with a message on stderr otherwise.

const fs = require('fs');
const httpclient = require('urllib');
const { Producer, Consumer, Message } = require('ali-ons');

const env = process.env;
const NAMESRV = env.NAMESRV;
const TOPIC = env.TOPIC;
const SENDS_FILE = env.SENDS_FILE;
const KILL_FILE = env.KILL_FILE;
const RUN_ID = env.RUN_ID || `fo-${process.pid}-${Date.now()}`;
const INTERVAL_MS = Number(env.INTERVAL_MS || 20);
const DURATION_MS = Number(env.DURATION_MS || 15000);
const RECOVER_MS = Number(env.RECOVER_MS || 10000);
const KILL_WAIT_MS = Number(env.KILL_WAIT_MS || 60000);
const POLL_MS = Number(env.POLL_MS || 1000);
const TIMEOUT_MS = Number(env.TIMEOUT_MS || 30000);

function fail(msg) {
  console.error(`failover: FAIL: ${msg}`);
  process.exit(1);
}
if (!NAMESRV || !TOPIC || !SENDS_FILE || !KILL_FILE) fail('NAMESRV, TOPIC, SENDS_FILE and KILL_FILE must be set');

const onsLog = env.ONS_LOG ? fs.openSync(env.ONS_LOG, 'a') : 2;
function logLine(kind, a) {
  const text = a.map(x => (x instanceof Error ? x.stack : typeof x === 'string' ? x : JSON.stringify(x))).join(' ');
  fs.writeSync(onsLog, `${new Date().toISOString()} [ali-ons ${kind}] ${text}\n`);
}
const logger = {
  info() {}, debug() {},
  warn(...a) { logLine('warn', a); },
  error(...a) { logLine('error', a); },
};
const common = { httpclient, nameSrv: NAMESRV, clientIP: '127.0.0.1', logger, pollNameServerInteval: POLL_MS };
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms));

// close() unregisters from every broker address the client still knows, the dead
// master's too when no route refresh has dropped it yet: its errors (or a hang)
// are not what this test is about, so they are logged and bounded.
async function closeQuietly(what, client) {
  try {
    await Promise.race([ client.close(), sleep(10000).then(() => { throw new Error('still closing after 10 s'); }) ]);
  } catch (err) {
    logLine(`${what} close`, [ err ]);
  }
}

function killTime() {
  try {
    const t = Number(fs.readFileSync(KILL_FILE, 'utf8').trim());
    return Number.isFinite(t) && t > 0 ? t : null;
  } catch (e) {
    return null;
  }
}

async function produce() {
  const producer = new Producer(Object.assign({}, common, {
    producerGroup: 'ons_failover_producer',
    instanceName: `ons_failover_producer_${process.pid}`,
  }));
  producer.on('error', err => logLine('producer error', [ err ]));
  await producer.ready();
  const sendsFd = fs.openSync(SENDS_FILE, 'a');
  const ok = []; // { body, at }
  let failed = 0;
  let lastFail = '';
  const t0 = Date.now();
  let kill = null;
  try {
    for (let i = 0; ; i++) {
      const now = Date.now();
      if (kill === null) kill = killTime();
      if (kill === null && now - t0 > KILL_WAIT_MS) fail(`run.sh did not kill the master within ${KILL_WAIT_MS} ms`);
      if (kill !== null) {
        const okAfter = ok.filter(m => m.at > kill);
        const recovered = okAfter.length >= 50;
        if (now - t0 >= DURATION_MS && (recovered || now - kill > RECOVER_MS)) break;
        if (!okAfter.length && now - kill > RECOVER_MS + 1000) break; // reported below
      }
      const body = `${RUN_ID}-${i}`;
      const msg = new Message(TOPIC, 'TagFailover', body);
      msg.keys = [ `${RUN_ID}-key-${i}` ];
      let why = null;
      try {
        const r = await producer.send(msg);
        if (!r || r.sendStatus !== 'SEND_OK') why = `status ${r && r.sendStatus}`;
      } catch (err) {
        why = String(err && err.message || err).replace(/\s+/g, ' ').slice(0, 200);
      }
      const at = Date.now();
      if (why === null) {
        ok.push({ body, at });
        fs.writeSync(sendsFd, `OK ${at} ${body}\n`);
      } else {
        failed++;
        lastFail = why;
        fs.writeSync(sendsFd, `FAIL ${at} ${body} ${why}\n`);
      }
      await sleep(INTERVAL_MS);
    }
  } finally {
    fs.closeSync(sendsFd);
    await closeQuietly('producer', producer);
  }
  const before = ok.filter(m => m.at <= kill).length;
  const after = ok.filter(m => m.at > kill);
  if (!before) fail('no SEND_OK before the kill');
  if (!after.length) fail(`no SEND_OK within ${RECOVER_MS} ms of the kill (${failed} sends failed, the last: ${lastFail})`);
  const recoverMs = after[0].at - kill;
  if (recoverMs > RECOVER_MS) fail(`first SEND_OK ${recoverMs} ms after the kill (bound ${RECOVER_MS} ms)`);
  return { ok, failed, recoverMs, before, after: after.length };
}

async function consume(ok) {
  const want = new Set(ok.map(m => m.body));
  const got = new Set();
  let extra = 0;
  let dups = 0;
  let done;
  const allIn = new Promise(resolve => { done = resolve; });
  const consumer = new Consumer(Object.assign({}, common, {
    consumerGroup: `ons_failover_${process.pid}`,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    isBroadcast: false,
  }));
  consumer.on('error', err => logLine('consumer error', [ err ]));
  consumer.subscribe(TOPIC, '*', async msg => {
    const body = msg.body.toString();
    if (!want.has(body)) { extra++; return; } // sent during the switch without SEND_OK
    if (got.has(body)) dups++;
    got.add(body);
    if (got.size === want.size) done();
  });
  await consumer.ready();
  const outcome = await Promise.race([ allIn, sleep(TIMEOUT_MS).then(() => 'timeout') ]);
  await closeQuietly('consumer', consumer);
  if (outcome === 'timeout') {
    const missing = [ ...want ].filter(b => !got.has(b));
    fail(`after ${TIMEOUT_MS} ms the consumer got ${got.size}/${want.size} acknowledged messages; ` +
         `${missing.length} missing, e.g. ${missing.slice(0, 5).join(', ')}`);
  }
  return { received: got.size, extra, dups };
}

(async () => {
  const p = await produce();
  const c = await consume(p.ok);
  console.log(`failover: ali-ons sent ${p.ok.length} SEND_OK (${p.before} before the kill, ${p.after} after), ` +
              `${p.failed} failed during the failover, first SEND_OK ${p.recoverMs} ms after kill -9; ` +
              `consumed ${c.received}/${p.ok.length} acknowledged (+${c.extra} unacknowledged, ${c.dups} duplicates)`);
  process.exit(0);
})().catch(err => fail(err && err.stack || String(err)));

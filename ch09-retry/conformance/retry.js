'use strict';
// Conformance, chapter 9: the ali-ons push consumer (an independently written RocketMQ 4.x
// client) fails a message once and gets it again from rocklet's broker.
//
//   1. The ali-ons Producer sends N messages with keys.
//   2. The ali-ons Consumer (clustering) throws on the first delivery of message FAIL_INDEX:
//      ali-ons sends it back with CONSUMER_SEND_MSG_BACK (36); the broker parks it for level 3
//      and puts it into %RETRY%<group>, which ali-ons subscribed to.
//   3. The message must come again: same body and keys, reconsumeTimes 1, topic restored to
//      TOPIC, no earlier than the level's delay (DELAY_MS) after the failure; every other
//      message exactly once.
//
// Environment: NAMESRV, TOPIC (required); N (default 10); FAIL_INDEX (default 3);
// GROUP (default ons_retry); DELAY_MS (level 3's delay as the broker is configured, default
// 1000); TIMEOUT_MS (default 30000). Exit 0 on success, 1 with a message otherwise.

const httpclient = require('urllib');
const { Producer, Consumer, Message } = require('ali-ons');

const NAMESRV = process.env.NAMESRV;
const TOPIC = process.env.TOPIC;
const N = Number(process.env.N || 10);
const FAIL_INDEX = Number(process.env.FAIL_INDEX || 3);
const GROUP = process.env.GROUP || 'ons_retry';
const DELAY_MS = Number(process.env.DELAY_MS || 1000);
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 30000);
const RUN_ID = `retry-${process.pid}-${Date.now()}`;

function fail(msg) {
  console.error(`retry: FAIL: ${msg}`);
  process.exit(1);
}
if (!NAMESRV || !TOPIC) fail('NAMESRV and TOPIC must be set');

const logger = {
  info() {}, debug() {},
  warn(...a) {
    if (typeof a[0] === 'string' && a[0].includes('updateTopicPublishInfo() prev is not null')) return;
    console.warn('[ali-ons warn]', ...a);
  },
  error(...a) { console.error('[ali-ons error]', ...a); },
};
// pollNameServerInteval (ali-ons' spelling): routes re-read every second, not 30 s. The
// consumer may look %RETRY%<group> up a moment before the heartbeat that creates it has
// reached the name server; with the default it would learn the route only 30 s later.
const common = { httpclient, nameSrv: NAMESRV, clientIP: '127.0.0.1', logger, pollNameServerInteval: 1000 };

(async () => {
  const producer = new Producer(Object.assign({}, common, {
    producerGroup: 'ons_retry_producer', instanceName: `ons_retry_producer_${process.pid}`,
  }));
  producer.on('error', err => console.error('[producer error]', err));
  await producer.ready();
  for (let i = 0; i < N; i++) {
    const msg = new Message(TOPIC, 'TagR', `${RUN_ID}-${i}`);
    msg.keys = [ `${RUN_ID}-key-${i}` ];
    const r = await producer.send(msg);
    if (!r || r.sendStatus !== 'SEND_OK') fail(`send #${i}: ${JSON.stringify(r)}`);
  }
  await producer.close();

  const seen = new Map(); // index -> deliveries [{at, reconsumeTimes, topic, keys}]
  let failedAt = 0;
  let bad = null;
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  const consumer = new Consumer(Object.assign({}, common, {
    consumerGroup: GROUP, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', isBroadcast: false,
  }));
  // the failure is reported through 'error' by ali-ons: expected once
  consumer.on('error', err => {
    if (!String(err.message).includes('planned failure')) console.error('[consumer error]', err);
  });
  consumer.subscribe(TOPIC, '*', async msg => {
    const body = msg.body.toString();
    if (!body.startsWith(RUN_ID)) return;
    const i = Number(body.slice(RUN_ID.length + 1));
    const list = seen.get(i) || [];
    list.push({ at: Date.now(), reconsumeTimes: msg.reconsumeTimes, topic: msg.topic, keys: msg.keys });
    seen.set(i, list);
    if (i === FAIL_INDEX && list.length === 1) {
      failedAt = Date.now();
      throw new Error('planned failure');
    }
    const all = [ ...Array(N).keys() ].every(k => seen.has(k)) && (seen.get(FAIL_INDEX) || []).length >= 2;
    if (all) done();
  });
  await consumer.ready();
  const timer = new Promise(resolve => setTimeout(resolve, TIMEOUT_MS, 'timeout'));
  const outcome = await Promise.race([ finished, timer ]);
  await new Promise(resolve => setTimeout(resolve, 500));
  await consumer.close();
  if (outcome === 'timeout') {
    fail(`after ${TIMEOUT_MS} ms: ${[ ...seen.entries() ].map(([ k, v ]) => `${k}x${v.length}`).join(' ')}`);
  }
  const again = seen.get(FAIL_INDEX);
  if (again.length !== 2) bad = `message ${FAIL_INDEX} came ${again.length} times`;
  const r = again[1];
  if (!bad && r.reconsumeTimes !== 1) bad = `the retry has reconsumeTimes ${r.reconsumeTimes}, not 1`;
  if (!bad && r.topic !== TOPIC) bad = `the retry is shown under topic ${r.topic}, not ${TOPIC}`;
  if (!bad && r.keys !== `${RUN_ID}-key-${FAIL_INDEX}`) bad = `the retry lost its keys: ${r.keys}`;
  if (!bad && r.at - failedAt < DELAY_MS) bad = `the retry came ${r.at - failedAt} ms after the failure, before ${DELAY_MS} ms`;
  for (const [ k, v ] of seen) if (!bad && k !== FAIL_INDEX && v.length !== 1) bad = `message ${k} came ${v.length} times`;
  if (bad) fail(bad);
  console.log(`retry: OK (ali-ons: message ${FAIL_INDEX} failed once, came back after ${r.at - failedAt} ms ` +
              `with reconsumeTimes 1 under ${TOPIC}; ${N - 1} others once each)`);
  process.exit(0);
})().catch(err => fail(err && err.stack || err));

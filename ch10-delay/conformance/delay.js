'use strict';
// Conformance, chapter 10: delayed messages sent by the ali-ons producer (an independently written
// RocketMQ 4.x client) arrive at the ali-ons push consumer after their delay, not before.
//
//   1. The ali-ons Producer sends, in this order: LEVEL_N messages with delayTimeLevel LEVEL (the
//      DELAY property), then, when START_DELIVER=1, one with setStartDeliverTime(now + START_MS)
//      (Alibaba Cloud ONS' __STARTDELIVERTIME), then one without a delay.
//   2. The ali-ons Consumer (clustering, from the first offset) must get every one exactly once,
//      with body, keys and tags as sent, under TOPIC: each delayed one no earlier than its delay
//      after it was sent (on the consumer's clock, and on the broker's: the restored copy's store
//      time against the born time ali-ons set); by the broker's store times, the plain one first
//      and one level's messages restored in send order.
//
// Environment: NAMESRV, TOPIC (required); LEVEL (default 2); LEVEL_MS (that level's delay as the
// broker is configured, default 2000); LEVEL_N (default 3); START_DELIVER (1: also the ONS
// delivery time; default 0); START_MS (default 2500); TIMEOUT_MS (default 30000).
// Exit 0 on success, 1 with a message otherwise.

const httpclient = require('urllib');
const { Producer, Consumer, Message } = require('ali-ons');

const NAMESRV = process.env.NAMESRV;
const TOPIC = process.env.TOPIC;
const LEVEL = Number(process.env.LEVEL || 2);
const LEVEL_MS = Number(process.env.LEVEL_MS || 2000);
const LEVEL_N = Number(process.env.LEVEL_N || 3);
const START_DELIVER = process.env.START_DELIVER === '1';
const START_MS = Number(process.env.START_MS || 2500);
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 30000);
const RUN_ID = `delay-${process.pid}-${Date.now()}`;

function fail(msg) {
  console.error(`delay: FAIL: ${msg}`);
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
const common = { httpclient, nameSrv: NAMESRV, clientIP: '127.0.0.1', logger, pollNameServerInteval: 1000 };

(async () => {
  const producer = new Producer(Object.assign({}, common, {
    producerGroup: 'ons_delay_producer', instanceName: `ons_delay_producer_${process.pid}`,
  }));
  producer.on('error', err => console.error('[producer error]', err));
  await producer.ready();
  const sent = new Map(); // name -> { at, delay, tags }
  async function send(name, tags, setup, delay) {
    const msg = new Message(TOPIC, tags, `${RUN_ID} ${name}`);
    msg.keys = [ `${RUN_ID}-${name}` ];
    setup(msg);
    const at = Date.now();
    const r = await producer.send(msg);
    if (!r || r.sendStatus !== 'SEND_OK') fail(`send ${name}: ${JSON.stringify(r)}`);
    sent.set(name, { at, delay, tags });
  }
  for (let i = 0; i < LEVEL_N; i++) {
    await send(`level-${i}`, 'TagLevel', m => { m.delayTimeLevel = LEVEL; }, LEVEL_MS);
  }
  if (START_DELIVER) {
    await send('start-deliver', 'TagStart', m => { m.setStartDeliverTime(Date.now() + START_MS); }, START_MS);
  }
  await send('plain', 'TagPlain', () => {}, 0);
  await producer.close();

  const got = new Map(); // name -> [{ at, born, store, keys, tags, topic }]
  let done;
  const finished = new Promise(resolve => { done = resolve; });
  const consumer = new Consumer(Object.assign({}, common, {
    consumerGroup: 'ons_delay_cg', consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET', isBroadcast: false,
  }));
  consumer.on('error', err => console.error('[consumer error]', err));
  consumer.subscribe(TOPIC, '*', async msg => {
    const body = msg.body.toString();
    if (!body.startsWith(RUN_ID + ' ')) return;
    const name = body.slice(RUN_ID.length + 1);
    const list = got.get(name) || [];
    list.push({ at: Date.now(), born: msg.bornTimestamp, store: msg.storeTimestamp, keys: msg.keys,
                tags: msg.tags, topic: msg.topic });
    got.set(name, list);
    if ([ ...sent.keys() ].every(k => got.has(k))) done();
  });
  await consumer.ready();
  const timer = new Promise(resolve => setTimeout(resolve, TIMEOUT_MS, 'timeout'));
  const outcome = await Promise.race([ finished, timer ]);
  await new Promise(resolve => setTimeout(resolve, 500)); // anything more would come now
  await consumer.close();
  if (outcome === 'timeout') {
    fail(`after ${TIMEOUT_MS} ms only ${[ ...got.keys() ].join(' ')} of ${[ ...sent.keys() ].join(' ')} came`);
  }
  for (const [ name, s ] of sent) {
    const list = got.get(name);
    if (list.length !== 1) fail(`${name} came ${list.length} times`);
    const g = list[0];
    if (g.topic !== TOPIC) fail(`${name} came under topic ${g.topic}, not ${TOPIC}`);
    if (g.keys !== `${RUN_ID}-${name}`) fail(`${name} lost its keys: ${g.keys}`);
    if (g.tags !== s.tags) fail(`${name} has tags ${g.tags}, not ${s.tags}`);
    if (g.at - s.at < s.delay) fail(`${name} came ${g.at - s.at} ms after it was sent, before its ${s.delay} ms`);
    // the broker's own clock: restored at least its delay after the producer made it (RocketMQ 5
    // rounds a delivery time down to its timer precision, 1 s, so a delivery time may be up to
    // that much early on the broker's clock; levels are exact)
    const slack = name === 'start-deliver' ? 1000 : 0;
    if (s.delay > 0 && g.store - g.born < s.delay - slack) {
      fail(`${name} was stored back ${g.store - g.born} ms after it was born, before its ${s.delay} ms`);
    }
  }
  // order by the broker's store times: the restored copies go back to the queues the producer
  // picked (round robin), and a push consumer consumes its queues side by side, so the order of
  // arrival across queues says nothing; the order the broker restored them in does
  const byStore = [ ...got.keys() ].sort((a, b) => got.get(a)[0].store - got.get(b)[0].store);
  if (byStore[0] !== 'plain') fail(`the message without a delay was not stored first: ${byStore.join(' ')}`);
  // one level in send order: restored at the same ms or later, each after the one sent before it
  for (let i = 1; i < LEVEL_N; i++) {
    const a = got.get(`level-${i - 1}`)[0].store, b = got.get(`level-${i}`)[0].store;
    if (b < a) fail(`level-${i} was restored at ${b}, before level-${i - 1} (sent before it) at ${a}`);
  }
  const lv = got.get('level-0')[0];
  console.log(`delay: OK (ali-ons: ${LEVEL_N} messages at level ${LEVEL} came ${lv.at - sent.get('level-0').at} ms ` +
              `after sending (delay ${LEVEL_MS} ms), in send order` +
              (START_DELIVER ? `; setStartDeliverTime +${START_MS} ms came after ` +
                `${got.get('start-deliver')[0].at - sent.get('start-deliver').at} ms` : '') +
              '; the plain one first)');
  process.exit(0);
})().catch(err => fail(err && err.stack || err));

'use strict';
// Conformance round trip: ali-ons (an independently written, pure-JavaScript
// RocketMQ 4.x client) against rocklet's name server and broker.
//
//   1. The ali-ons Producer sends N messages (tags, keys, one body > 4 KiB so
//      that the client zlib-compresses it) and every send must be SEND_OK.
//   2. The ali-ons push Consumer (clustering, CONSUME_FROM_FIRST_OFFSET)
//      subscribes the topic and must receive every message it sent, plus the
//      C_COUNT messages run.sh sent earlier with rocklet's own mqadmin.
//
// Environment:
//   NAMESRV   host:port of the name server (required)
//   TOPIC     topic, created beforehand (required)
//   RUN_ID    unique prefix for this run's bodies (default: pid + time)
//   N         how many messages the JS producer sends (default 50)
//   C_PREFIX  body prefix of the mqadmin-sent messages (default rocklet-c-)
//   C_COUNT   how many mqadmin-sent messages to expect (default 5)
//   GROUP     consumer group (default ons_conformance)
//   TIMEOUT_MS how long to wait for the consumer (default 30000)
//   JS_SENT_FILE if set, the JS-sent bodies (or their first 64 bytes for
//             long ones) are written there, one per line, for run.sh to check
//   ACCESS_KEY, SECRET_KEY  if set, ali-ons signs every request with them
//             (RocketMQ's ACL; acl.sh)
// Exit 0 on success, 1 with a message on stderr otherwise.

const fs = require('fs');
const httpclient = require('urllib');
const { Producer, Consumer, Message } = require('ali-ons');

const NAMESRV = process.env.NAMESRV;
const TOPIC = process.env.TOPIC;
const RUN_ID = process.env.RUN_ID || `js-${process.pid}-${Date.now()}`;
const N = Number(process.env.N || 50);
const C_PREFIX = process.env.C_PREFIX || 'rocklet-c-';
const C_COUNT = Number(process.env.C_COUNT || 5);
const GROUP = process.env.GROUP || 'ons_conformance';
const TIMEOUT_MS = Number(process.env.TIMEOUT_MS || 30000);
const BIG_INDEX = 7; // this message's body is > 4 KiB: the client compresses it

function fail(msg) {
  console.error(`roundtrip: FAIL: ${msg}`);
  process.exit(1);
}
if (!NAMESRV || !TOPIC) fail('NAMESRV and TOPIC must be set');

// ali-ons logs warn/error on the console; keep those, drop info/debug, and
// drop the warning ali-ons always prints when a topic's first route arrives
// (it seeds an empty TopicPublishInfo, then replaces it: normal flow).
const logger = {
  info() {}, debug() {},
  warn(...a) {
    if (typeof a[0] === 'string' && a[0].includes('updateTopicPublishInfo() prev is not null')) return;
    console.warn('[ali-ons warn]', ...a);
  },
  error(...a) { console.error('[ali-ons error]', ...a); },
};

// No Aliyun: nameSrv replaces the onsAddr HTTP lookup (httpclient is still
// asserted by the constructor but never used), and without accessKey and
// secretKey the client adds no Signature/AccessKey fields to requests.
const common = {
  httpclient,
  nameSrv: NAMESRV,
  clientIP: '127.0.0.1',
  logger,
};
if (process.env.ACCESS_KEY) {
  common.accessKey = process.env.ACCESS_KEY;
  common.secretKey = process.env.SECRET_KEY;
}

function bodyFor(i) {
  const head = `${RUN_ID}-${i}`;
  if (i !== BIG_INDEX) return head;
  return `${head} ` + 'x'.repeat(6000) + ' end';
}

async function produce() {
  const producer = new Producer(Object.assign({}, common, {
    producerGroup: 'ons_conformance_producer',
    instanceName: `ons_conformance_producer_${process.pid}`,
  }));
  producer.on('error', err => console.error('[producer error]', err));
  await producer.ready();
  const sent = new Map(); // body -> key
  try {
    for (let i = 0; i < N; i++) {
      const body = bodyFor(i);
      const msg = new Message(TOPIC, i % 2 ? 'TagOdd' : 'TagEven', body);
      const key = `${RUN_ID}-key-${i}`;
      msg.keys = [ key ]; // the setter stores the space-joined string
      const r = await producer.send(msg);
      if (!r || r.sendStatus !== 'SEND_OK') {
        fail(`send #${i}: expected sendStatus SEND_OK, got ${JSON.stringify(r)}`);
      }
      if (!r.msgId) fail(`send #${i}: SEND_OK without msgId: ${JSON.stringify(r)}`);
      sent.set(body, key);
    }
  } finally {
    await producer.close();
  }
  return sent;
}

async function consume(sent) {
  const want = new Map(sent); // body -> expected key (null: any key)
  for (let i = 1; i <= C_COUNT; i++) want.set(`${C_PREFIX}${i}`, null);
  const got = new Map(); // body -> times received
  let dups = 0;
  let bad = null;
  let done;
  const allIn = new Promise(resolve => { done = resolve; });

  const consumer = new Consumer(Object.assign({}, common, {
    consumerGroup: GROUP,
    consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET',
    isBroadcast: false,
  }));
  consumer.on('error', err => console.error('[consumer error]', err));
  consumer.subscribe(TOPIC, '*', async msg => {
    const body = msg.body.toString();
    if (!want.has(body)) return; // something from an earlier run: ignore
    const key = want.get(body);
    if (key !== null) {
      if (msg.keys !== key) bad = bad || `body ${body.slice(0, 40)}: key ${msg.keys} != ${key}`;
      const wantTag = Number(body.slice(RUN_ID.length + 1).split(' ')[0]) % 2 ? 'TagOdd' : 'TagEven';
      if (msg.tags !== wantTag) bad = bad || `body ${body.slice(0, 40)}: tag ${msg.tags} != ${wantTag}`;
    }
    if (body === bodyFor(BIG_INDEX) && !(msg.sysFlag & 0x1)) {
      bad = bad || `the ${body.length}-byte body came back without the compressed sysFlag (0x1): sysFlag ${msg.sysFlag}`;
    }
    if (got.has(body)) dups++;
    got.set(body, (got.get(body) || 0) + 1);
    if (got.size === want.size) done();
  });
  await consumer.ready();

  const timer = new Promise(resolve => setTimeout(resolve, TIMEOUT_MS, 'timeout'));
  const outcome = await Promise.race([ allIn, timer ]);
  // The last handler has not returned yet when done() fires; give ali-ons a
  // moment to advance its offset table so close() commits the final offsets
  // (UPDATE_CONSUMER_OFFSET, oneway) and run.sh can check the group has no lag.
  await new Promise(resolve => setTimeout(resolve, 500));
  await consumer.close();
  if (bad) fail(bad);
  if (outcome === 'timeout') {
    const missing = [ ...want.keys() ].filter(b => !got.has(b)).map(b => b.slice(0, 40));
    fail(`after ${TIMEOUT_MS} ms the consumer got ${got.size}/${want.size} messages; missing: ${missing.join(', ')}`);
  }
  return { received: got.size, dups };
}

(async () => {
  const t0 = Date.now();
  const sent = await produce();
  if (process.env.JS_SENT_FILE) {
    fs.writeFileSync(process.env.JS_SENT_FILE,
      [ ...sent.keys() ].map(b => b.slice(0, 64)).join('\n') + '\n');
  }
  console.log(`roundtrip: ali-ons producer: ${sent.size} messages SEND_OK (one ${bodyFor(BIG_INDEX).length}-byte body, zlib-compressed by the client)`);
  const { received, dups } = await consume(sent);
  console.log(`roundtrip: ali-ons consumer: ${received} distinct messages (${sent.size} from ali-ons, ${C_COUNT} from mqadmin), ${dups} duplicates, the large one with the compressed sysFlag, ${Date.now() - t0} ms`);
  console.log('roundtrip: OK');
  // ali-ons may leave timers; everything was closed, so exit explicitly.
  process.exit(0);
})().catch(err => fail(err && err.stack || String(err)));

// Scenarios as kafkajs sees them (version pinned in package.json; snappy through kafkajs-snappy;
// kafkajs ships no lz4 or zstd codec without native add-ons, so those print "unsupported").
//
//   NODE_PATH=<node_modules> node kafkajs.js SCENARIO BOOTSTRAP PREFIX
//
// Prints the normalised observation on stdout (names without PREFIX, no volatile values); exit 0
// = the scenario's own checks passed, 64 = not applicable, anything else = failed. The contract
// is in compat-tests/README.md; every family prints the same lines where it can. kafkajs has no
// manual partition assignment: "consume from the beginning" is a fresh group per read.
'use strict';
const { spawn } = require('child_process');
const { Kafka, CompressionTypes, CompressionCodecs, ConfigResourceTypes, logLevel } = require('kafkajs');
CompressionCodecs[CompressionTypes.Snappy] = require('kafkajs-snappy');

const [SCENARIO, BOOT, PREFIX] = process.argv.slice(2);
const kafka = new Kafka({ clientId: 'compat', brokers: [BOOT], logLevel: logLevel.NOTHING, retry: { retries: 5 } });
const out = (...a) => console.log(a.join(' '));
const fail = (m) => { out('FAIL', m); process.exit(1); };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const py = (b) => (b ? 'True' : 'False');
let admin;
let readers = 0;

const errName = (e) => {
  if (e && e.errors && e.errors.length) return errName(e.errors[0]);
  return (e && e.type) || (e && e.name) || String(e);
};

async function create(name, partitions, configs = {}, rf = 1) {
  try {
    const made = await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: PREFIX + name, numPartitions: partitions, replicationFactor: rf,
        configEntries: Object.entries(configs).map(([k, v]) => ({ name: k, value: v })) }],
    });
    return made ? 'ok' : 'not-created';
  } catch (e) {
    return errName(e);
  }
}

async function waitTopic(name, partitions) {
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [PREFIX + name] });
      if (md.topics[0].partitions.length === partitions) return;
    } catch (e) { /* not yet */ }
    await sleep(200);
  }
  fail(`topic ${name} not ready with ${partitions} partitions`);
}

/** Sends one message at a time, so that every message gets its own partition and offset. */
async function produceEach(producer, topic, messages, extra = {}) {
  const res = [];
  for (const m of messages) {
    try {
      const r = await producer.send({ topic: PREFIX + topic, messages: [m], ...extra });
      res.push([r[0].partition, Number(r[0].baseOffset)]);
    } catch (e) {
      res.push(errName(e));
    }
  }
  return res;
}

async function consumeAll(topic, expect, opts = {}) {
  const c = kafka.consumer({ groupId: `${PREFIX}reader-${readers++}`, maxBytesPerPartition: 1 << 20, ...opts });
  await c.connect();
  await c.subscribe({ topic: PREFIX + topic, fromBeginning: true });
  const msgs = [];
  await c.run({ eachMessage: async ({ partition, message }) => { msgs.push({ partition, ...message, offset: Number(message.offset) }); } });
  const deadline = Date.now() + 30000;
  while (msgs.length < expect && Date.now() < deadline) await sleep(100);
  await sleep(1000);
  await c.disconnect();
  msgs.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  return msgs;
}

// -------------------------------------------------------------------------------------------------

async function quickstart() {
  out('create quickstart', await create('quickstart', 1));
  await waitTopic('quickstart', 1);
  const p = kafka.producer();
  await p.connect();
  const lines = ['This is a message', 'This is another message', '第三条消息'];
  for (const [part, off] of await produceEach(p, 'quickstart', lines.map((value) => ({ value })))) out(`produced quickstart p=${part} o=${off}`);
  await p.disconnect();
  for (const m of await consumeAll('quickstart', 3)) out(`consumed p=${m.partition} o=${m.offset} v=${m.value}`);
  for (const t of (await admin.listTopics()).filter((n) => n.startsWith(PREFIX)).sort()) out('list', t.slice(PREFIX.length));
  const md = await admin.fetchTopicMetadata({ topics: [PREFIX + 'quickstart'] });
  for (const pm of md.topics[0].partitions.sort((a, b) => a.partitionId - b.partitionId)) {
    out(`describe quickstart p=${pm.partitionId} leader=${pm.leader} replicas=[${pm.replicas.join(', ')}] isr=[${pm.isr.join(', ')}]`);
  }
}

async function keyed() {
  await create('keyed', 6);
  await waitTopic('keyed', 6);
  const p = kafka.producer();
  await p.connect();
  const res = await produceEach(p, 'keyed', [...Array(30).keys()].map((i) => ({ key: `key-${i}`, value: `v-${i}` })));
  await p.disconnect();
  res.forEach(([part], i) => out(`key key-${i} p=${part}`));
  const byPart = {};
  for (const m of await consumeAll('keyed', 30)) {
    const k = m.key.toString();
    if (res[Number(k.slice(4))][0] !== m.partition) fail(`${k} consumed from another partition`);
    (byPart[m.partition] = byPart[m.partition] || []).push(k);
  }
  for (const part of Object.keys(byPart).map(Number).sort((a, b) => a - b)) out(`partition ${part} keys=${byPart[part].join(',')}`);
}

async function codecs() {
  const types = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP, snappy: CompressionTypes.Snappy, lz4: CompressionTypes.LZ4, zstd: CompressionTypes.ZSTD };
  for (const [codec, type] of Object.entries(types)) {
    const t = `codec-${codec}`;
    await create(t, 1);
    await waitTopic(t, 1);
    const p = kafka.producer();
    await p.connect();
    const values = [...Array(10).keys()].map((i) => `${codec}-${i}-`.repeat(20));
    let r;
    try {
      r = await p.send({ topic: PREFIX + t, compression: type, messages: values.map((value) => ({ value, partition: 0 })) });
    } catch (e) {
      out(`codec ${codec} unsupported`);
      await p.disconnect();
      continue;
    }
    await p.disconnect();
    const base = Number(r[0].baseOffset);
    const got = await consumeAll(t, 10);
    const ok = got.length === 10 && got.every((m, i) => m.value.toString() === values[i]);
    out(`codec ${codec} produced=10 offsets=${base}..${base + 9} consumed=${got.length} values-ok=${py(ok)}`);
  }
}

function groupConsumer(onAssign) {
  const c = kafka.consumer({ groupId: PREFIX + 'group', sessionTimeout: 6000, heartbeatInterval: 1000, rebalanceTimeout: 10000 });
  c.on(c.events.GROUP_JOIN, (e) => onAssign((e.payload.memberAssignment[PREFIX + 'group'] || []).length));
  return c;
}

async function groupMember() {
  const c = groupConsumer((n) => console.log(`assigned ${n}`));
  await c.connect();
  await c.subscribe({ topic: PREFIX + 'group', fromBeginning: true });
  await c.run({ autoCommit: false, eachMessage: async () => {} });
}

async function group() {
  await create('group', 4);
  await waitTopic('group', 4);
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: PREFIX + 'group', messages: [...Array(20).keys()].map((i) => ({ value: `g-${i}`, partition: i % 4 })) });
  await p.disconnect();
  const child = spawn(process.execPath, [__filename, 'group-member', BOOT, PREFIX], { stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    let childAssigned = false;
    child.stdout.on('data', (d) => { if (/assigned [1-9]/.test(d.toString())) childAssigned = true; });
    let deadline = Date.now() + 30000;
    while (!childAssigned && Date.now() < deadline) await sleep(100);
    let assigned = 0;
    let parts = [];
    const seen = new Set();
    const c = groupConsumer((n) => { assigned = n; });
    c.on(c.events.GROUP_JOIN, (e) => { parts = (e.payload.memberAssignment[PREFIX + 'group'] || []).slice().sort((a, b) => a - b); });
    await c.connect();
    await c.subscribe({ topic: PREFIX + 'group', fromBeginning: true });
    await c.run({ autoCommit: false, eachMessage: async ({ message }) => { seen.add(message.value.toString()); } });
    let sizes = 'none';
    deadline = Date.now() + 30000;
    while (Date.now() < deadline) {
      if (assigned > 0 && assigned < 4) { sizes = [assigned, 4 - assigned].sort().join('+'); break; }
      await sleep(100);
    }
    out(`two-members assignment-sizes=${sizes}`);
    child.kill('SIGKILL');
    deadline = Date.now() + 60000;
    while (Date.now() < deadline && (assigned < 4 || seen.size < 20)) await sleep(100);
    out(`after-kill assignment=${parts.join(',')}`);
    out(`after-kill consumed-distinct=${seen.size}`);
    await c.disconnect();
  } finally {
    child.kill('SIGKILL');
  }
}

async function offsets() {
  await create('offsets', 1);
  await waitTopic('offsets', 1);
  const p = kafka.producer();
  await p.connect();
  await p.send({ topic: PREFIX + 'offsets', messages: [...Array(10).keys()].map((i) => ({ value: `o-${i}` })) });
  await p.disconnect();
  const g = PREFIX + 'offsets-g';
  const committed = async () => (await admin.fetchOffsets({ groupId: g, topics: [PREFIX + 'offsets'] }))[0].partitions[0];
  out(`before-commit committed=${(await committed()).offset}`);
  await admin.setOffsets({ groupId: g, topic: PREFIX + 'offsets', partitions: [{ partition: 0, offset: '5' }] });
  const c5 = await committed();
  out(`committed offset=${c5.offset} metadata=${c5.metadata || ''}`);
  const c = kafka.consumer({ groupId: g });
  await c.connect();
  await c.subscribe({ topic: PREFIX + 'offsets', fromBeginning: true });
  let first = null;
  await c.run({ autoCommit: false, eachMessage: async ({ message }) => { if (first === null) first = Number(message.offset); } });
  const deadline = Date.now() + 30000;
  while (first === null && Date.now() < deadline) await sleep(100);
  out(`resume first-offset=${first}`);
  await c.disconnect();
  await admin.setOffsets({ groupId: g, topic: PREFIX + 'offsets', partitions: [{ partition: 0, offset: '2' }] });
  out(`reset committed=${(await committed()).offset}`);
  const wm = (await admin.fetchTopicOffsets(PREFIX + 'offsets'))[0];
  out(`watermarks low=${wm.low} high=${wm.high}`);
}

async function configValue(topic, key) {
  const r = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: PREFIX + topic, configNames: [key] }] });
  const e = r.resources[0].configEntries.find((x) => x.configName === key);
  return e ? `${key}=${e.configValue} default=${py(e.isDefault)} source=${e.configSource}` : `${key} missing`;
}

// The config once the broker has applied the alter: a KRaft broker's metadata image may lag the
// controller's answer for a moment (Kafka's own tests wait for the value too).
async function alteredConfigValue(topic, key, value) {
  const deadline = Date.now() + 10000;
  for (;;) {
    const seen = await configValue(topic, key);
    if (seen.startsWith(`${key}=${value} `) || Date.now() > deadline) return seen;
    await sleep(100);
  }
}

async function adminScenario() {
  out('create admin-a', await create('admin-a', 2, { 'retention.ms': '3600000' }));
  await waitTopic('admin-a', 2);
  out('describe', await configValue('admin-a', 'retention.ms'));
  out('describe', await configValue('admin-a', 'cleanup.policy'));
  await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: PREFIX + 'admin-a', configEntries: [{ name: 'retention.ms', value: '7200000' }] }] });
  out('altered', await alteredConfigValue('admin-a', 'retention.ms', '7200000'));
  await admin.createPartitions({ topicPartitions: [{ topic: PREFIX + 'admin-a', count: 5 }] });
  await waitTopic('admin-a', 5);
  out('partitions admin-a', (await admin.fetchTopicMetadata({ topics: [PREFIX + 'admin-a'] })).topics[0].partitions.length);
  await admin.deleteTopics({ topics: [PREFIX + 'admin-a'] });
  const deadline = Date.now() + 30000;
  while ((await admin.listTopics()).includes(PREFIX + 'admin-a') && Date.now() < deadline) await sleep(200);
  out('deleted admin-a listed=', py((await admin.listTopics()).includes(PREFIX + 'admin-a')));
}

async function idempotent() {
  await create('idempotent', 1);
  await waitTopic('idempotent', 1);
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  const res = await produceEach(p, 'idempotent', [...Array(10).keys()].map((i) => ({ value: `i-${i}`, partition: 0 })), { acks: -1 });
  await p.disconnect();
  out(`produced offsets=${res.map(([, o]) => o).join(',')}`);
  const vals = (await consumeAll('idempotent', 10)).map((m) => m.value.toString());
  out(`consumed=${vals.length} distinct=${new Set(vals).size} in-order=${py(vals.join() === [...Array(10).keys()].map((i) => `i-${i}`).join())}`);
}

async function txn() {
  await create('txn', 1);
  await waitTopic('txn', 1);
  const p = kafka.producer({ transactionalId: PREFIX + 'tx', idempotent: true, maxInFlightRequests: 1 });
  await p.connect();
  for (const [action, n] of [['commit', 3], ['abort', 3], ['commit2', 2]]) {
    const t = await p.transaction();
    await t.send({ topic: PREFIX + 'txn', messages: [...Array(n).keys()].map((i) => ({ value: `${action}-${i}`, partition: 0 })) });
    if (action === 'abort') await t.abort(); else await t.commit();
    out('txn', action, 'done');
  }
  await p.disconnect();
  for (const [iso, n, opts] of [['read_committed', 5, {}], ['read_uncommitted', 8, { readUncommitted: true }]]) {
    out(iso, (await consumeAll('txn', n, opts)).map((m) => `${m.offset}:${m.value}`).join(' '));
  }
  out('end-offset', (await admin.fetchTopicOffsets(PREFIX + 'txn'))[0].high);
}

async function headers() {
  await create('headers', 1);
  await waitTopic('headers', 1);
  const base = 1700000000000;
  const p = kafka.producer();
  await p.connect();
  // kafkajs headers are an object: a repeated key is an array of values.
  await produceEach(p, 'headers', [
    { key: 'k', value: 'with-headers', partition: 0, headers: { h1: ['a', 'c'], h2: 'b', empty: '' }, timestamp: String(base) },
    { key: 'k', value: 't1', partition: 0, timestamp: String(base + 1000) },
    { key: 'k', value: 't2', partition: 0, timestamp: String(base + 2000) },
  ]);
  await p.disconnect();
  for (const m of await consumeAll('headers', 3)) {
    const hs = [];
    for (const [k, v] of Object.entries(m.headers || {})) for (const x of [].concat(v)) hs.push(`${k}=${x.toString()}`);
    out(`record o=${m.offset} v=${m.value} ts=${Number(m.timestamp) - base} type=1 headers=${hs.join(',')}`);
  }
  for (const t of [base - 1, base + 500, base + 2000, base + 5000]) {
    const r = await admin.fetchTopicOffsetsByTimestamp(PREFIX + 'headers', t);
    out(`offset-for-time +${t - base} -> ${r[0].offset}`);
  }
}

async function large() {
  await create('large', 1, { 'max.message.bytes': '100000' });
  await waitTopic('large', 1);
  const p = kafka.producer({ retry: { retries: 0 } });
  await p.connect();
  for (const [name, v] of [['near-limit', 'x'.repeat(90000)], ['over-limit', 'y'.repeat(200000)]]) {
    const [r] = await produceEach(p, 'large', [{ value: v, partition: 0 }]);
    out(name, typeof r === 'string' ? r : `ok o=${r[1]}`);
  }
  await p.disconnect();
  out('consumed', (await consumeAll('large', 1)).map((m) => `${m.offset}:${m.value.length}`).join(' '));
}

async function errors() {
  try {
    await admin.fetchTopicMetadata({ topics: [PREFIX + 'no-such-topic'] });
    out('metadata no-such-topic ok');
  } catch (e) {
    out('metadata no-such-topic', errName(e));
  }
  await create('errors', 1);
  await waitTopic('errors', 1);
  out('create existing', await create('errors', 1));
  out('create rf=3', await create('errors-rf', 1, {}, 3));
  out('create bad-config', await create('errors-cfg', 1, { 'cleanup.policy': 'bogus' }));
  out('create bad-name', await create('bad name!', 1));
  out('create unknown-config', await create('errors-unknown', 1, { 'no.such.config': '1' }));
  try {
    await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: PREFIX + 'no-such-topic-2' }] });
    out('describe-configs no-such-topic-2 ok');
  } catch (e) {
    out('describe-configs no-such-topic-2', errName(e));
  }
}

const SCENARIOS = { quickstart, keyed, codecs, group, offsets, admin: adminScenario, idempotent, txn, headers, large, errors };

(async () => {
  if (SCENARIO === 'group-member') return groupMember();
  const f = SCENARIOS[SCENARIO];
  if (!f) { out(`n/a: no scenario ${SCENARIO}`); process.exit(64); }
  admin = kafka.admin();
  await admin.connect();
  await f();
  await admin.disconnect();
  process.exit(0);
})().catch((e) => { out('FAIL', errName(e), e.message); process.exit(1); });

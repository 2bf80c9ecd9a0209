// Scenarios as the official Java client (kafka-clients, from the Kafka dist's libs/) sees them.
//
//   java -cp "<classes>:<dist>/libs/*" Compat SCENARIO BOOTSTRAP PREFIX
//
// compat-tests/install.sh compiles this file once. Prints the normalised observation on stdout
// (names without PREFIX, no volatile values); exit 0 = the scenario's own checks passed, 64 = not
// applicable, anything else = failed. The contract is in compat-tests/README.md; every family
// prints the same lines where it can.

import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.*;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class Compat {
    static String boot, prefix;
    static Admin admin;

    static void out(String s) { System.out.println(s); System.out.flush(); }

    static void fail(String s) { out("FAIL " + s); System.exit(1); }

    static String errName(Throwable e) {
        while ((e instanceof ExecutionException || e instanceof KafkaException && e.getCause() != null
                && !(e instanceof org.apache.kafka.common.errors.ApiException)) && e.getCause() != null) {
            e = e.getCause();
        }
        return e.getClass().getSimpleName();
    }

    static Properties props(Object... kv) {
        Properties p = new Properties();
        p.put("bootstrap.servers", boot);
        for (int i = 0; i + 1 < kv.length; i += 2) p.put(kv[i], String.valueOf(kv[i + 1]));
        return p;
    }

    static KafkaProducer<String, String> producer(Object... kv) {
        Properties p = props(kv);
        p.putIfAbsent("linger.ms", "5");
        return new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
    }

    static KafkaConsumer<String, String> consumer(Object... kv) {
        Properties p = props(kv);
        p.putIfAbsent("enable.auto.commit", "false");
        p.putIfAbsent("auto.offset.reset", "earliest");
        return new KafkaConsumer<>(p, new StringDeserializer(), new StringDeserializer());
    }

    static String create(String name, int partitions, short rf, Map<String, String> configs) {
        try {
            admin.createTopics(List.of(new NewTopic(prefix + name, partitions, rf).configs(configs))).all().get(30, TimeUnit.SECONDS);
            return "ok";
        } catch (Exception e) {
            return errName(e);
        }
    }

    static String create(String name, int partitions) { return create(name, partitions, (short) 1, Map.of()); }

    static void waitTopic(String name, int partitions) throws Exception {
        long deadline = System.currentTimeMillis() + 30000;
        while (System.currentTimeMillis() < deadline) {
            try {
                TopicDescription d = admin.describeTopics(List.of(prefix + name)).allTopicNames().get().get(prefix + name);
                if (d.partitions().size() == partitions) return;
            } catch (ExecutionException e) { /* not yet */ }
            Thread.sleep(200);
        }
        fail("topic " + name + " not ready with " + partitions + " partitions");
    }

    static List<RecordMetadata> produce(KafkaProducer<String, String> p, List<ProducerRecord<String, String>> recs) throws Exception {
        List<java.util.concurrent.Future<RecordMetadata>> fs = new ArrayList<>();
        for (ProducerRecord<String, String> r : recs) fs.add(p.send(r));
        p.flush();
        List<RecordMetadata> res = new ArrayList<>();
        for (var f : fs) res.add(f.get(30, TimeUnit.SECONDS));
        return res;
    }

    static ProducerRecord<String, String> rec(String topic, Integer partition, String key, String value) {
        return new ProducerRecord<>(prefix + topic, partition, key, value);
    }

    static List<ConsumerRecord<String, String>> consumeAssigned(String topic, int partitions, int expect, Object... kv) {
        List<ConsumerRecord<String, String>> recs = new ArrayList<>();
        Object[] all = Arrays.copyOf(kv, kv.length + 2);
        all[kv.length] = "max.partition.fetch.bytes";
        all[kv.length + 1] = 1 << 20;
        try (KafkaConsumer<String, String> c = consumer(all)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (int p = 0; p < partitions; p++) tps.add(new TopicPartition(prefix + topic, p));
            c.assign(tps);
            c.seekToBeginning(tps);
            long deadline = System.currentTimeMillis() + 30000;
            while (recs.size() < expect && System.currentTimeMillis() < deadline) {
                for (var r : c.poll(Duration.ofMillis(500))) recs.add(r);
            }
            long end = System.currentTimeMillis() + 1000;
            while (System.currentTimeMillis() < end) {
                for (var r : c.poll(Duration.ofMillis(200))) recs.add(r);
            }
        }
        recs.sort(Comparator.comparingInt((ConsumerRecord<String, String> r) -> r.partition()).thenComparingLong(ConsumerRecord::offset));
        return recs;
    }

    // -------------------------------------------------------------------------------------------

    static void quickstart() throws Exception {
        out("create quickstart " + create("quickstart", 1));
        waitTopic("quickstart", 1);
        List<String> lines = List.of("This is a message", "This is another message", "第三条消息");
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (String l : lines) recs.add(rec("quickstart", null, null, l));
        try (var p = producer()) {
            for (RecordMetadata m : produce(p, recs)) out("produced quickstart p=" + m.partition() + " o=" + m.offset());
        }
        for (var r : consumeAssigned("quickstart", 1, 3)) out("consumed p=" + r.partition() + " o=" + r.offset() + " v=" + r.value());
        for (String t : new TreeSet<>(admin.listTopics().names().get())) {
            if (t.startsWith(prefix)) out("list " + t.substring(prefix.length()));
        }
        TopicDescription d = admin.describeTopics(List.of(prefix + "quickstart")).allTopicNames().get().get(prefix + "quickstart");
        for (TopicPartitionInfo p : d.partitions()) {
            out("describe quickstart p=" + p.partition() + " leader=" + p.leader().id() + " replicas="
                    + p.replicas().stream().map(Node::id).toList() + " isr=" + p.isr().stream().map(Node::id).toList());
        }
    }

    static void keyed() throws Exception {
        create("keyed", 6);
        waitTopic("keyed", 6);
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 30; i++) recs.add(rec("keyed", null, "key-" + i, "v-" + i));
        Map<String, Integer> where = new HashMap<>();
        try (var p = producer()) {
            List<RecordMetadata> res = produce(p, recs);
            for (int i = 0; i < 30; i++) {
                out("key key-" + i + " p=" + res.get(i).partition());
                where.put("key-" + i, res.get(i).partition());
            }
        }
        TreeMap<Integer, List<String>> byPart = new TreeMap<>();
        for (var r : consumeAssigned("keyed", 6, 30)) {
            if (where.get(r.key()) != r.partition()) fail(r.key() + " consumed from another partition");
            byPart.computeIfAbsent(r.partition(), k -> new ArrayList<>()).add(r.key());
        }
        byPart.forEach((p, ks) -> out("partition " + p + " keys=" + String.join(",", ks)));
    }

    static void codecs() throws Exception {
        for (String codec : List.of("none", "gzip", "snappy", "lz4", "zstd")) {
            String t = "codec-" + codec;
            create(t, 1);
            waitTopic(t, 1);
            List<ProducerRecord<String, String>> recs = new ArrayList<>();
            for (int i = 0; i < 10; i++) recs.add(rec(t, null, null, (codec + "-" + i + "-").repeat(20)));
            List<RecordMetadata> res;
            try (var p = producer("compression.type", codec, "linger.ms", 50)) {
                res = produce(p, recs);
            }
            var got = consumeAssigned(t, 1, 10);
            boolean ok = got.size() == 10;
            for (int i = 0; ok && i < 10; i++) ok = got.get(i).value().equals((codec + "-" + i + "-").repeat(20));
            out("codec " + codec + " produced=" + res.size() + " offsets=" + res.get(0).offset() + ".." + res.get(9).offset()
                    + " consumed=" + got.size() + " values-ok=" + (ok ? "True" : "False"));
        }
    }

    static KafkaConsumer<String, String> groupConsumer() {
        return consumer("group.id", prefix + "group", "session.timeout.ms", 6000, "heartbeat.interval.ms", 1000);
    }

    static void groupMember() {
        var c = groupConsumer();
        c.subscribe(List.of(prefix + "group"));
        while (true) {
            c.poll(Duration.ofMillis(200));
            out("assigned " + c.assignment().size());
        }
    }

    static void group() throws Exception {
        create("group", 4);
        waitTopic("group", 4);
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 20; i++) recs.add(rec("group", i % 4, null, "g-" + i));
        try (var p = producer()) { produce(p, recs); }
        String java = ProcessHandle.current().info().command().orElse("java");
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), "Compat", "group-member", boot, prefix)
                .redirectError(ProcessBuilder.Redirect.DISCARD).start();
        try {
            var reader = new java.io.BufferedReader(new java.io.InputStreamReader(child.getInputStream()));
            long deadline = System.currentTimeMillis() + 30000;
            String line;
            while ((line = reader.readLine()) != null && line.equals("assigned 0") && System.currentTimeMillis() < deadline) { }
            Thread drain = new Thread(() -> { try { while (reader.readLine() != null) { } } catch (Exception e) { } });
            drain.setDaemon(true);
            drain.start();
            var c = groupConsumer();
            c.subscribe(List.of(prefix + "group"));
            Set<String> seen = new HashSet<>();
            String sizes = "none";
            deadline = System.currentTimeMillis() + 30000;
            while (System.currentTimeMillis() < deadline) {
                for (var r : c.poll(Duration.ofMillis(200))) seen.add(r.value());
                int a = c.assignment().size();
                if (a > 0 && a < 4) { sizes = Math.min(a, 4 - a) + "+" + Math.max(a, 4 - a); break; }
            }
            out("two-members assignment-sizes=" + sizes);
            child.destroyForcibly().waitFor();
            deadline = System.currentTimeMillis() + 60000;
            while (System.currentTimeMillis() < deadline && (c.assignment().size() < 4 || seen.size() < 20)) {
                for (var r : c.poll(Duration.ofMillis(200))) seen.add(r.value());
            }
            out("after-kill assignment=" + String.join(",", c.assignment().stream().map(tp -> tp.partition()).sorted().map(String::valueOf).toList()));
            out("after-kill consumed-distinct=" + seen.size());
            c.close();
        } finally {
            child.destroyForcibly();
        }
    }

    static void offsets() throws Exception {
        create("offsets", 1);
        waitTopic("offsets", 1);
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 10; i++) recs.add(rec("offsets", 0, null, "o-" + i));
        try (var p = producer()) { produce(p, recs); }
        TopicPartition tp = new TopicPartition(prefix + "offsets", 0);
        try (var c = consumer("group.id", prefix + "offsets-g")) {
            var got = c.committed(Set.of(tp)).get(tp);
            out("before-commit committed=" + (got == null ? -1 : got.offset()));
            c.commitSync(Map.of(tp, new OffsetAndMetadata(5, "m5")));
            got = c.committed(Set.of(tp)).get(tp);
            out("committed offset=" + got.offset() + " metadata=" + got.metadata());
        }
        try (var c = consumer("group.id", prefix + "offsets-g")) {
            c.subscribe(List.of(prefix + "offsets"));
            long first = -1, deadline = System.currentTimeMillis() + 30000;
            while (first < 0 && System.currentTimeMillis() < deadline) {
                for (var r : c.poll(Duration.ofMillis(500))) { if (first < 0) first = r.offset(); }
            }
            out("resume first-offset=" + first);
            c.commitSync(Map.of(tp, new OffsetAndMetadata(2)));
            out("reset committed=" + c.committed(Set.of(tp)).get(tp).offset());
            out("watermarks low=" + c.beginningOffsets(Set.of(tp)).get(tp) + " high=" + c.endOffsets(Set.of(tp)).get(tp));
        }
    }

    static String configValue(String topic, String key) throws Exception {
        var res = new ConfigResource(ConfigResource.Type.TOPIC, prefix + topic);
        Config cfg = admin.describeConfigs(List.of(res)).all().get().get(res);
        ConfigEntry e = cfg.get(key);
        return key + "=" + e.value() + " default=" + (e.isDefault() ? "True" : "False") + " source=" + e.source();
    }

    /** The config once the broker has applied the alter: a KRaft broker's metadata image may lag the
     *  controller's answer for a moment (Kafka's own tests wait for the value too). */
    static String alteredConfigValue(String topic, String key, String value) throws Exception {
        long deadline = System.currentTimeMillis() + 10000;
        while (true) {
            String seen = configValue(topic, key);
            if (seen.startsWith(key + "=" + value + " ") || System.currentTimeMillis() > deadline) return seen;
            Thread.sleep(100);
        }
    }

    static void adminScenario() throws Exception {
        out("create admin-a " + create("admin-a", 2, (short) 1, Map.of("retention.ms", "3600000")));
        waitTopic("admin-a", 2);
        out("describe " + configValue("admin-a", "retention.ms"));
        out("describe " + configValue("admin-a", "cleanup.policy"));
        var res = new ConfigResource(ConfigResource.Type.TOPIC, prefix + "admin-a");
        admin.incrementalAlterConfigs(Map.of(res, List.of(new AlterConfigOp(new ConfigEntry("retention.ms", "7200000"), AlterConfigOp.OpType.SET)))).all().get();
        out("altered " + alteredConfigValue("admin-a", "retention.ms", "7200000"));
        admin.createPartitions(Map.of(prefix + "admin-a", NewPartitions.increaseTo(5))).all().get();
        waitTopic("admin-a", 5);
        out("partitions admin-a " + admin.describeTopics(List.of(prefix + "admin-a")).allTopicNames().get().get(prefix + "admin-a").partitions().size());
        admin.deleteTopics(List.of(prefix + "admin-a")).all().get();
        long deadline = System.currentTimeMillis() + 30000;
        while (admin.listTopics().names().get().contains(prefix + "admin-a") && System.currentTimeMillis() < deadline) Thread.sleep(200);
        out("deleted admin-a listed=" + (admin.listTopics().names().get().contains(prefix + "admin-a") ? "True" : "False"));
    }

    static void idempotent() throws Exception {
        create("idempotent", 1);
        waitTopic("idempotent", 1);
        List<ProducerRecord<String, String>> recs = new ArrayList<>();
        for (int i = 0; i < 10; i++) recs.add(rec("idempotent", 0, null, "i-" + i));
        try (var p = producer("enable.idempotence", true, "acks", "all")) {
            out("produced offsets=" + String.join(",", produce(p, recs).stream().map(m -> String.valueOf(m.offset())).toList()));
        }
        var got = consumeAssigned("idempotent", 1, 10);
        List<String> vals = got.stream().map(ConsumerRecord::value).toList();
        List<String> want = new ArrayList<>();
        for (int i = 0; i < 10; i++) want.add("i-" + i);
        out("consumed=" + got.size() + " distinct=" + new HashSet<>(vals).size() + " in-order=" + (vals.equals(want) ? "True" : "False"));
    }

    static void txn() throws Exception {
        create("txn", 1);
        waitTopic("txn", 1);
        try (var p = producer("transactional.id", prefix + "tx")) {
            p.initTransactions();
            for (var step : List.of(Map.entry("commit", 3), Map.entry("abort", 3), Map.entry("commit2", 2))) {
                p.beginTransaction();
                for (int i = 0; i < step.getValue(); i++) p.send(rec("txn", 0, null, step.getKey() + "-" + i)).get();
                if (step.getKey().equals("abort")) p.abortTransaction(); else p.commitTransaction();
                out("txn " + step.getKey() + " done");
            }
        }
        for (var iso : List.of(Map.entry("read_committed", 5), Map.entry("read_uncommitted", 8))) {
            var got = consumeAssigned("txn", 1, iso.getValue(), "isolation.level", iso.getKey());
            out(iso.getKey() + " " + String.join(" ", got.stream().map(r -> r.offset() + ":" + r.value()).toList()));
        }
        TopicPartition tp = new TopicPartition(prefix + "txn", 0);
        var lo = admin.listOffsets(Map.of(tp, OffsetSpec.latest())).all().get().get(tp);
        out("end-offset " + lo.offset());
    }

    static void headers() throws Exception {
        create("headers", 1);
        waitTopic("headers", 1);
        long base = 1700000000000L;
        var r0 = new ProducerRecord<>(prefix + "headers", 0, base, "k", "with-headers");
        r0.headers().add("h1", "a".getBytes()).add("h2", "b".getBytes()).add("h1", "c".getBytes()).add("empty", new byte[0]);
        try (var p = producer()) {
            produce(p, List.of(r0, new ProducerRecord<>(prefix + "headers", 0, base + 1000, "k", "t1"),
                    new ProducerRecord<>(prefix + "headers", 0, base + 2000, "k", "t2")));
        }
        for (var r : consumeAssigned("headers", 1, 3)) {
            List<String> hs = new ArrayList<>();
            for (Header h : r.headers()) hs.add(h.key() + "=" + new String(h.value()));
            out("record o=" + r.offset() + " v=" + r.value() + " ts=" + (r.timestamp() - base) + " type="
                    + (r.timestampType() == org.apache.kafka.common.record.TimestampType.CREATE_TIME ? 1 : 2) + " headers=" + String.join(",", hs));
        }
        TopicPartition tp = new TopicPartition(prefix + "headers", 0);
        for (long t : new long[] {base - 1, base + 500, base + 2000, base + 5000}) {
            var lo = admin.listOffsets(Map.of(tp, OffsetSpec.forTimestamp(t))).all().get().get(tp);
            out("offset-for-time +" + (t - base) + " -> " + lo.offset());
        }
    }

    static void large() throws Exception {
        create("large", 1, (short) 1, Map.of("max.message.bytes", "100000"));
        waitTopic("large", 1);
        try (var p = producer("compression.type", "none", "retries", 0)) {
            for (var c : List.of(Map.entry("near-limit", "x".repeat(90000)), Map.entry("over-limit", "y".repeat(200000)))) {
                try {
                    out(c.getKey() + " ok o=" + p.send(rec("large", 0, null, c.getValue())).get().offset());
                } catch (Exception e) {
                    out(c.getKey() + " " + errName(e));
                }
            }
        }
        out("consumed " + String.join(" ", consumeAssigned("large", 1, 1).stream().map(r -> r.offset() + ":" + r.value().length()).toList()));
    }

    static void errors() throws Exception {
        try {
            admin.describeTopics(List.of(prefix + "no-such-topic")).allTopicNames().get();
            out("metadata no-such-topic ok");
        } catch (Exception e) {
            out("metadata no-such-topic " + errName(e));
        }
        create("errors", 1);
        waitTopic("errors", 1);
        out("create existing " + create("errors", 1));
        out("create rf=3 " + create("errors-rf", 1, (short) 3, Map.of()));
        out("create bad-config " + create("errors-cfg", 1, (short) 1, Map.of("cleanup.policy", "bogus")));
        out("create bad-name " + create("bad name!", 1));
        out("create unknown-config " + create("errors-unknown", 1, (short) 1, Map.of("no.such.config", "1")));
        try {
            var res = new ConfigResource(ConfigResource.Type.TOPIC, prefix + "no-such-topic-2");
            admin.describeConfigs(List.of(res)).all().get();
            out("describe-configs no-such-topic-2 ok");
        } catch (Exception e) {
            out("describe-configs no-such-topic-2 " + errName(e));
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 3) { System.err.println("usage: Compat SCENARIO BOOTSTRAP PREFIX"); System.exit(2); }
        boot = args[1];
        prefix = args[2];
        if (args[0].equals("group-member")) { groupMember(); return; }
        admin = Admin.create(props());
        try {
            switch (args[0]) {
                case "quickstart" -> quickstart();
                case "keyed" -> keyed();
                case "codecs" -> codecs();
                case "group" -> group();
                case "offsets" -> offsets();
                case "admin" -> adminScenario();
                case "idempotent" -> idempotent();
                case "txn" -> txn();
                case "headers" -> headers();
                case "large" -> large();
                case "errors" -> errors();
                default -> { out("n/a: no scenario " + args[0]); System.exit(64); }
            }
        } finally {
            admin.close(Duration.ofSeconds(5));
        }
        System.exit(0);
    }
}

// Transactional Kafka client for tests/transactions.rs: one file, run by Java's source launcher
// (no build step):
//
//   java -cp '<kafka-dist>/libs/*' tests/java/TxnClient.java <mode> --bootstrap HOST:PORT [options]
//
// Modes (every machine-readable line goes to stdout, space separated; the client's own logging
// goes to stderr):
//
//   produce --txn-id ID --plan "commit:t1,t2:5;abort:t1:3" [--txn-timeout-ms T]
//       Transactions in plan order; transaction i sends N records to every listed topic, record j
//       to partition j % partitions with key "<i>-<j>" and value "<action>-<i>-<j>" (so a
//       value says whether its transaction was committed or aborted), flushes, then commits or
//       aborts. Prints `committed|aborted TOPIC PARTITION OFFSET KEY VALUE` per record.
//   consume --topics t1,t2 --isolation read_committed|read_uncommitted [--expect N] [--timeout-ms T]
//       Reads every partition from the beginning without a group. Stops after N records, or
//       (without --expect) once the position reaches the end offset everywhere, or at the timeout.
//       Prints `record TOPIC PARTITION OFFSET KEY VALUE`, then `position TOPIC PARTITION P` and
//       `end ISOLATION TOPIC PARTITION E` (ListOffsets with that isolation: the last stable offset
//       for read_committed, the high watermark otherwise), then `summary COUNT timed-out=BOOL`.
//   offsets --topics t1,t2 --isolation read_committed,read_uncommitted
//       Only the `end` lines, for each isolation level listed.
//   copy --txn-id ID --group G --input IN --output OUT --txn-size K --plan commit,abort
//        [--max-txns M] [--timeout-ms T]
//       Consume-transform-produce: subscribes to IN (read_committed) in group G, copies K records
//       per transaction to OUT (same partition, same key, value "copy-<value>"), hands the offsets
//       to the transaction with sendOffsetsToTransaction(offsets, consumer.groupMetadata()), then
//       commits or aborts, cycling through the plan. After an abort it rewinds to the group's
//       committed offsets. Stops after M transactions or when IN is consumed to its end.
//       Prints `copied TXN TOPIC PARTITION OFFSET KEY VALUE`, `txn TXN commit|abort
//       IN:P=OFFSET,...` and at the end `group-offset TOPIC PARTITION OFFSET|-` (what the group
//       has committed, as the consumer fetches it).
//   fence --txn-id ID --topic T [--count N] [--p1-actions send,commit,abort]
//       Producer 1 begins a transaction and sends N records (`open ...` lines); producer 2 with the
//       same transactional.id calls initTransactions (`p2-initialized`); producer 1 then tries the
//       --p1-actions in order (send, commit, abort; default "send,commit"), printing
//       `p1-ACTION-ok` or `p1-ACTION-error EXCEPTION-CLASS` for each. Producer 2 then commits N
//       records (`committed ...` lines). DescribeTransactions (Admin) at each step prints
//       `describe p1-open|p2-initialized|p2-committed STATE PRODUCER-ID EPOCH TOPIC-PARTITIONS|-`.
//   hang --txn-id ID --topic T [--count N] [--txn-timeout-ms T]
//       Begins a transaction, sends N records (`open ...` lines), prints `hanging`, then halts the
//       JVM without committing, aborting or closing: only the broker can end that transaction.

import java.time.Duration;
import java.util.*;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.admin.*;
import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.clients.producer.*;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class TxnClient {
    static Map<String, String> opts = new HashMap<>();

    public static void main(String[] args) throws Exception {
        for (int i = 1; i + 1 < args.length; i += 2) {
            opts.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        switch (args[0]) {
            case "produce" -> produce();
            case "consume" -> consume();
            case "offsets" -> offsets();
            case "copy" -> copy();
            case "fence" -> fence();
            case "hang" -> hang();
            default -> throw new IllegalArgumentException("unknown mode " + args[0]);
        }
    }

    static String opt(String name) {
        String v = opts.get(name);
        if (v == null) throw new IllegalArgumentException("missing --" + name);
        return v;
    }

    static String opt(String name, String dflt) {
        return opts.getOrDefault(name, dflt);
    }

    static void out(Object... fields) {
        StringJoiner line = new StringJoiner(" ");
        for (Object f : fields) line.add(String.valueOf(f));
        System.out.println(line);
    }

    static KafkaProducer<String, String> producer(String txnId) {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, opt("bootstrap"));
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, txnId);
        p.put(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, opt("txn-timeout-ms", "60000"));
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, "30000");
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        return new KafkaProducer<>(p);
    }

    static KafkaConsumer<String, String> consumer(String isolation, String group) {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, opt("bootstrap"));
        p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        if (group != null) p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        return new KafkaConsumer<>(p);
    }

    static int partitionCount(Producer<?, ?> producer, String topic) {
        return producer.partitionsFor(topic).size();
    }

    /** Sends `count` records to `topic` (record j to partition j % partitions), then flushes. */
    static List<Future<RecordMetadata>> sendRecords(
            Producer<String, String> p, String topic, int count, String keyPrefix, String valuePrefix,
            List<String[]> sent) {
        int partitions = partitionCount(p, topic);
        List<Future<RecordMetadata>> futures = new ArrayList<>();
        for (int j = 0; j < count; j++) {
            String key = keyPrefix + j, value = valuePrefix + j;
            futures.add(p.send(new ProducerRecord<>(topic, j % partitions, key, value)));
            sent.add(new String[] {key, value});
        }
        p.flush();
        return futures;
    }

    static void printSent(String what, List<Future<RecordMetadata>> futures, List<String[]> sent)
            throws Exception {
        for (int i = 0; i < futures.size(); i++) {
            RecordMetadata m = futures.get(i).get();
            out(what, m.topic(), m.partition(), m.offset(), sent.get(i)[0], sent.get(i)[1]);
        }
    }

    static void produce() throws Exception {
        try (KafkaProducer<String, String> p = producer(opt("txn-id"))) {
            p.initTransactions();
            String[] txns = opt("plan").split(";");
            for (int i = 0; i < txns.length; i++) {
                String[] parts = txns[i].split(":");
                String action = parts[0];
                int count = Integer.parseInt(parts[2]);
                p.beginTransaction();
                List<Future<RecordMetadata>> futures = new ArrayList<>();
                List<String[]> sent = new ArrayList<>();
                for (String topic : parts[1].split(",")) {
                    futures.addAll(sendRecords(p, topic, count, i + "-", action + "-" + i + "-", sent));
                }
                if (action.equals("commit")) p.commitTransaction();
                else if (action.equals("abort")) p.abortTransaction();
                else throw new IllegalArgumentException("plan action " + action);
                printSent(action.equals("commit") ? "committed" : "aborted", futures, sent);
            }
        }
        out("done");
    }

    static List<TopicPartition> partitionsOf(Consumer<?, ?> c, String topics) {
        List<TopicPartition> tps = new ArrayList<>();
        for (String t : topics.split(",")) {
            for (PartitionInfo info : c.partitionsFor(t)) tps.add(new TopicPartition(t, info.partition()));
        }
        tps.sort(Comparator.comparing(TopicPartition::topic).thenComparing(TopicPartition::partition));
        return tps;
    }

    static void consume() {
        int expect = Integer.parseInt(opt("expect", "-1"));
        long deadline = System.currentTimeMillis() + Long.parseLong(opt("timeout-ms", "30000"));
        try (KafkaConsumer<String, String> c = consumer(opt("isolation"), null)) {
            List<TopicPartition> tps = partitionsOf(c, opt("topics"));
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            int count = 0;
            boolean timedOut = false;
            while (expect >= 0 ? count < expect : !tps.stream().allMatch(tp -> c.position(tp) >= ends.get(tp))) {
                if (System.currentTimeMillis() > deadline) {
                    timedOut = true;
                    break;
                }
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                    out("record", r.topic(), r.partition(), r.offset(), r.key(), r.value());
                    count++;
                }
            }
            for (TopicPartition tp : tps) out("position", tp.topic(), tp.partition(), c.position(tp));
            printEnds(c, opt("isolation"), tps);
            out("summary", count, "timed-out=" + timedOut);
        }
    }

    static void offsets() {
        for (String isolation : opt("isolation").split(",")) {
            try (KafkaConsumer<String, String> c = consumer(isolation, null)) {
                printEnds(c, isolation, partitionsOf(c, opt("topics")));
            }
        }
    }

    static void printEnds(Consumer<?, ?> c, String isolation, List<TopicPartition> tps) {
        Map<TopicPartition, Long> ends = c.endOffsets(tps);
        for (TopicPartition tp : tps) out("end", isolation, tp.topic(), tp.partition(), ends.get(tp));
    }

    static void copy() throws Exception {
        String input = opt("input"), output = opt("output"), group = opt("group");
        int txnSize = Integer.parseInt(opt("txn-size"));
        String[] plan = opt("plan").split(",");
        int maxTxns = Integer.parseInt(opt("max-txns", "-1"));
        long deadline = System.currentTimeMillis() + Long.parseLong(opt("timeout-ms", "60000"));
        try (KafkaConsumer<String, String> c = consumer("read_committed", group);
                KafkaProducer<String, String> p = producer(opt("txn-id"))) {
            p.initTransactions();
            c.subscribe(List.of(input));
            Map<TopicPartition, Long> ends = c.endOffsets(partitionsOf(c, input));
            Deque<ConsumerRecord<String, String>> pending = new ArrayDeque<>();
            int txn = 0;
            while (maxTxns < 0 || txn < maxTxns) {
                if (System.currentTimeMillis() > deadline) throw new RuntimeException("copy timed out");
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) pending.add(r);
                boolean drained = !c.assignment().isEmpty()
                        && c.assignment().equals(ends.keySet())
                        && ends.entrySet().stream().allMatch(e -> c.position(e.getKey()) >= e.getValue());
                if (pending.isEmpty() && drained) break;
                if (pending.size() < txnSize && !drained) continue;

                String action = plan[txn % plan.length];
                p.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> offsets = new TreeMap<>(
                        Comparator.comparing(TopicPartition::topic).thenComparing(TopicPartition::partition));
                List<Future<RecordMetadata>> futures = new ArrayList<>();
                List<String[]> sent = new ArrayList<>();
                for (int i = 0; i < txnSize && !pending.isEmpty(); i++) {
                    ConsumerRecord<String, String> r = pending.poll();
                    String value = "copy-" + r.value();
                    futures.add(p.send(new ProducerRecord<>(output, r.partition(), r.key(), value)));
                    sent.add(new String[] {r.key(), value});
                    offsets.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                p.sendOffsetsToTransaction(offsets, c.groupMetadata());
                p.flush();
                StringJoiner offs = new StringJoiner(",");
                offsets.forEach((tp, om) -> offs.add(tp.topic() + ":" + tp.partition() + "=" + om.offset()));
                if (action.equals("commit")) {
                    p.commitTransaction();
                } else {
                    p.abortTransaction();
                    // Redo the aborted records: back to what the group has committed.
                    pending.clear();
                    Map<TopicPartition, OffsetAndMetadata> committed = c.committed(c.assignment());
                    for (TopicPartition tp : c.assignment()) {
                        OffsetAndMetadata om = committed.get(tp);
                        if (om == null) c.seekToBeginning(List.of(tp));
                        else c.seek(tp, om.offset());
                    }
                }
                printSent("copied " + txn, futures, sent);
                out("txn", txn, action, offs);
                txn++;
            }
            List<TopicPartition> tps = new ArrayList<>(ends.keySet());
            tps.sort(Comparator.comparing(TopicPartition::partition));
            Map<TopicPartition, OffsetAndMetadata> committed = c.committed(new HashSet<>(tps));
            for (TopicPartition tp : tps) {
                OffsetAndMetadata om = committed.get(tp);
                out("group-offset", tp.topic(), tp.partition(), om == null ? "-" : om.offset());
            }
        }
        out("done");
    }

    static void fence() throws Exception {
        String txnId = opt("txn-id"), topic = opt("topic");
        int count = Integer.parseInt(opt("count", "3"));
        KafkaProducer<String, String> p1 = producer(txnId);
        p1.initTransactions();
        p1.beginTransaction();
        List<String[]> sent = new ArrayList<>();
        printSent("open", sendRecords(p1, topic, count, "p1-", "open-p1-", sent), sent);

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, opt("bootstrap")));
                KafkaProducer<String, String> p2 = producer(txnId)) {
            describe(admin, "p1-open", txnId);
            p2.initTransactions();
            out("p2-initialized");
            describe(admin, "p2-initialized", txnId);
            for (String action : opt("p1-actions", "send,commit").split(",")) {
                try {
                    switch (action) {
                        case "send" -> p1.send(new ProducerRecord<>(topic, 0, "p1-late", "late-p1")).get();
                        case "commit" -> p1.commitTransaction();
                        case "abort" -> p1.abortTransaction();
                        default -> throw new IllegalArgumentException("p1 action " + action);
                    }
                    out("p1-" + action + "-ok");
                } catch (ExecutionException e) {
                    out("p1-" + action + "-error", e.getCause().getClass().getName());
                } catch (KafkaException e) {
                    out("p1-" + action + "-error", e.getClass().getName());
                }
            }
            p1.close(Duration.ofSeconds(5));

            p2.beginTransaction();
            List<String[]> sent2 = new ArrayList<>();
            List<Future<RecordMetadata>> futures = sendRecords(p2, topic, count, "p2-", "commit-p2-", sent2);
            p2.commitTransaction();
            printSent("committed", futures, sent2);
            describe(admin, "p2-committed", txnId);
        }
        out("done");
    }

    /** `describe WHEN STATE PRODUCER-ID PRODUCER-EPOCH TOPIC-PARTITIONS|-` (DescribeTransactions). */
    static void describe(Admin admin, String when, String txnId) throws Exception {
        TransactionDescription d = admin.describeTransactions(List.of(txnId)).description(txnId).get();
        StringJoiner tps = new StringJoiner(",");
        d.topicPartitions().stream().map(TopicPartition::toString).sorted().forEach(tps::add);
        out("describe", when, d.state(), d.producerId(), d.producerEpoch(), tps.length() == 0 ? "-" : tps);
    }

    static void hang() throws Exception {
        KafkaProducer<String, String> p = producer(opt("txn-id"));
        p.initTransactions();
        p.beginTransaction();
        List<String[]> sent = new ArrayList<>();
        int count = Integer.parseInt(opt("count", "3"));
        printSent("open", sendRecords(p, opt("topic"), count, "hang-", "open-hang-", sent), sent);
        out("hanging");
        System.out.flush();
        Runtime.getRuntime().halt(0);
    }
}

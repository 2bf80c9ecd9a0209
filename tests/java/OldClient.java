// An old Apache Kafka Java client (kafka-clients 2.x or 0.10.x) producing and consuming with a
// consumer group, for tests/old_formats.rs. Written against the API that both lines share
// (poll(long), committed(TopicPartition), no headers), so the same source runs on either
// classpath with Java's source launcher:
//
//   java -cp 'kafka-clients-<v>/*' OldClient.java produce BOOTSTRAP TOPIC FROM COUNT
//       sends COUNT records to partition 0 (key-<i>, value-<i>, CreateTime 1700000000000 + i
//       for i in FROM..FROM+COUNT), one at a time, and prints `produced OFFSET` for each
//   java -cp ... OldClient.java consume BOOTSTRAP TOPIC GROUP COUNT
//       subscribes with group GROUP (earliest, no auto-commit), reads COUNT records, commits
//       them, and prints `record OFFSET KEY VALUE TIMESTAMP_TYPE TIMESTAMP` for each, then
//       `committed OFFSET` and `end OFFSET` (the group's committed offset and the log end)
import java.util.Collections;
import java.util.Properties;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public class OldClient {
    public static void main(String[] args) throws Exception {
        String mode = args[0], bootstrap = args[1], topic = args[2];
        if (mode.equals("produce")) {
            produce(bootstrap, topic, Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        } else if (mode.equals("consume")) {
            consume(bootstrap, topic, args[3], Integer.parseInt(args[4]));
        } else {
            throw new IllegalArgumentException("mode: " + mode);
        }
    }

    static void produce(String bootstrap, String topic, int from, int count) throws Exception {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = from; i < from + count; i++) {
                RecordMetadata m = producer.send(new ProducerRecord<>(topic, 0,
                        1700000000000L + i, "key-" + i, "value-" + i)).get();
                System.out.println("produced " + m.offset());
            }
        }
    }

    static void consume(String bootstrap, String topic, String group, int count) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", group);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(Collections.singletonList(topic));
            int seen = 0;
            long deadline = System.currentTimeMillis() + 30000;
            while (seen < count && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<String, String> r : consumer.poll(500)) {
                    System.out.println("record " + r.offset() + " " + r.key() + " " + r.value()
                            + " " + r.timestampType() + " " + r.timestamp());
                    seen++;
                }
            }
            consumer.commitSync();
            OffsetAndMetadata committed = consumer.committed(tp);
            System.out.println("committed " + (committed == null ? -1 : committed.offset()));
            System.out.println("end " + consumer.endOffsets(Collections.singletonList(tp)).get(tp));
        }
    }
}

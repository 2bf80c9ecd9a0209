/*
 * failover-probe: one acks=all record to one partition every INTERVAL ms, each delivery
 * timestamped; and, in a second thread, the partition's leader as Metadata reports it, polled
 * every INTERVAL ms. bench/lib/failover.py reads its output to time a leader's failover.
 *
 *   failover-probe -b BOOTSTRAP -t TOPIC [-p PARTITION] [-i INTERVAL_MS] [-s SIZE] [-X key=value]...
 *
 * Output (stdout, line-buffered; times are CLOCK_REALTIME in ms with a fraction):
 *   start  T
 *   ack    T_SENT T_ACK OFFSET BROKER     a delivery acknowledged (BROKER: the node that acked)
 *   err    T_SENT T_ACK ERROR             a delivery that failed for good
 *   leader T LEADER ISR_SIZE              the partition's leader changed in Metadata (-1: none)
 *   mderr  T ERROR                        a Metadata request failed (printed on change only)
 * Stops on SIGINT/SIGTERM: what is still queued is flushed for at most 2 s, then it exits.
 *
 * Producer defaults (each can be overridden with -X): acks=all, linger.ms=0 (every record its own
 * request), message.timeout.ms=120000 (a record waits for the new leader instead of failing),
 * retry.backoff.ms=50, topic.metadata.refresh.interval.ms=250. The Metadata thread's answers also
 * refresh the producer's own view of the leaders, so the producer learns of a new leader at most
 * about INTERVAL ms after a broker first reports it.
 */
#include <librdkafka/rdkafka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t run = 1;
static void stop(int sig) { (void)sig; run = 0; }

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void sleep_ms(double ms) {
    if (ms <= 0)
        return;
    struct timespec ts = {(time_t)(ms / 1000), (long)((ms - (time_t)(ms / 1000) * 1000) * 1e6)};
    nanosleep(&ts, NULL);
}

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
#define OUT(...)                                                                                   \
    do {                                                                                           \
        pthread_mutex_lock(&out_lock);                                                             \
        printf(__VA_ARGS__);                                                                       \
        fflush(stdout);                                                                            \
        pthread_mutex_unlock(&out_lock);                                                           \
    } while (0)

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk;
    (void)opaque;
    double sent = *(double *)m->_private;
    free(m->_private);
    double t = now_ms();
    if (m->err)
        OUT("err %.3f %.3f %s\n", sent, t, rd_kafka_err2name(m->err));
    else
        OUT("ack %.3f %.3f %lld %d\n", sent, t, (long long)m->offset,
            (int)rd_kafka_message_broker_id(m));
}

struct md_args {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int partition;
    int interval_ms;
};

static void *metadata_loop(void *p) {
    struct md_args *a = p;
    int last_leader = -2, last_isr = -2;
    rd_kafka_resp_err_t last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    while (run) {
        double t0 = now_ms();
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(a->rk, 0, a->rkt, &md, 1000);
        if (err) {
            if (err != last_err)
                OUT("mderr %.3f %s\n", now_ms(), rd_kafka_err2name(err));
            last_err = err;
        } else {
            last_err = RD_KAFKA_RESP_ERR_NO_ERROR;
            int leader = -1, isr = 0;
            if (md->topic_cnt == 1)
                for (int i = 0; i < md->topics[0].partition_cnt; i++)
                    if (md->topics[0].partitions[i].id == a->partition) {
                        leader = md->topics[0].partitions[i].leader;
                        isr = md->topics[0].partitions[i].isr_cnt;
                    }
            if (leader != last_leader || isr != last_isr)
                OUT("leader %.3f %d %d\n", now_ms(), leader, isr);
            last_leader = leader;
            last_isr = isr;
            rd_kafka_metadata_destroy(md);
        }
        sleep_ms(a->interval_ms - (now_ms() - t0));
    }
    return NULL;
}

static void usage(void) {
    fprintf(stderr, "usage: failover-probe -b BOOTSTRAP -t TOPIC [-p PARTITION] [-i INTERVAL_MS] "
                    "[-s SIZE] [-X key=value]...\n");
    exit(2);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char errstr[512];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "failover-probe: %s=%s: %s\n", k, v, errstr);
        exit(2);
    }
}

int main(int argc, char **argv) {
    const char *brokers = NULL, *topic = NULL;
    int partition = 0, interval = 50, size = 1024, opt;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char errstr[512];
    set(conf, "acks", "all");
    set(conf, "linger.ms", "0");
    set(conf, "message.timeout.ms", "120000");
    set(conf, "retry.backoff.ms", "50");
    set(conf, "topic.metadata.refresh.interval.ms", "250");
    while ((opt = getopt(argc, argv, "b:t:p:i:s:X:")) != -1) {
        switch (opt) {
        case 'b': brokers = optarg; break;
        case 't': topic = optarg; break;
        case 'p': partition = atoi(optarg); break;
        case 'i': interval = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'X': {
            char *eq = strchr(optarg, '=');
            if (!eq)
                usage();
            *eq = '\0';
            set(conf, optarg, eq + 1);
            break;
        }
        default: usage();
        }
    }
    if (!brokers || !topic || interval < 1 || size < 0)
        usage();
    set(conf, "bootstrap.servers", brokers);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "failover-probe: %s\n", errstr);
        return 1;
    }
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    signal(SIGINT, stop);
    signal(SIGTERM, stop);
    setvbuf(stdout, NULL, _IOLBF, 0);

    struct md_args md = {rk, rkt, partition, interval};
    pthread_t th;
    pthread_create(&th, NULL, metadata_loop, &md);

    char *buf = malloc(size > 0 ? size : 1);
    memset(buf, 'p', size > 0 ? size : 1);
    OUT("start %.3f\n", now_ms());
    double next = now_ms();
    while (run) {
        double *sent = malloc(sizeof(double));
        *sent = now_ms();
        if (rd_kafka_produce(rkt, partition, RD_KAFKA_MSG_F_COPY, buf, size, NULL, 0, sent) == -1) {
            OUT("err %.3f %.3f %s\n", *sent, now_ms(), rd_kafka_err2name(rd_kafka_last_error()));
            free(sent);
        }
        next += interval;
        /* Serve delivery reports until the next send is due (poll returns early on an event). */
        double left;
        while (run && (left = next - now_ms()) > 0)
            rd_kafka_poll(rk, left < 1 ? 1 : (int)left);
        if (next < now_ms() - 10 * interval)
            next = now_ms(); /* fell behind (stopped process?): no burst to catch up */
    }
    rd_kafka_flush(rk, 2000);
    pthread_join(th, NULL);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    free(buf);
    return 0;
}

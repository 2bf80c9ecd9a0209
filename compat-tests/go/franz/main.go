// Scenarios as franz-go sees them.
//
//	franz SCENARIO BOOTSTRAP PREFIX
//
// Prints the normalised observation on stdout (names without PREFIX, no volatile values); exit 0 =
// the scenario's own checks passed, 64 = not applicable, anything else = failed. The contract is
// in compat-tests/README.md; every family prints the same lines where it can.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

var (
	boot, prefix string
	ctx          context.Context
)

func out(format string, a ...any) { fmt.Printf(format+"\n", a...) }

func fail(format string, a ...any) {
	out("FAIL "+format, a...)
	os.Exit(1)
}

func must(err error, what string) {
	if err != nil {
		fail("%s: %v", what, err)
	}
}

func client(opts ...kgo.Opt) *kgo.Client {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(boot)}, opts...)...)
	must(err, "client")
	return cl
}

func adm() *kadm.Client { return kadm.NewClient(client()) }

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return fmt.Sprintf("%T", err)
}

func create(name string, partitions int32, rf int16, configs map[string]*string) string {
	resp, err := adm().CreateTopics(ctx, partitions, rf, configs, prefix+name)
	if err != nil {
		return errName(err)
	}
	return errName(resp[prefix+name].Err)
}

func waitTopic(name string, partitions int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		td, err := adm().ListTopics(ctx, prefix+name)
		if err == nil {
			if d, ok := td[prefix+name]; ok && d.Err == nil && len(d.Partitions) == partitions {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail("topic %s not ready with %d partitions", name, partitions)
}

func str(s string) *string { return &s }

func produce(cl *kgo.Client, recs []*kgo.Record) ([]*kgo.Record, error) {
	res := cl.ProduceSync(ctx, recs...)
	return recs, res.FirstErr()
}

func consumeAssigned(topic string, partitions int, expect int, opts ...kgo.Opt) []*kgo.Record {
	parts := map[int32]kgo.Offset{}
	for p := 0; p < partitions; p++ {
		parts[int32(p)] = kgo.NewOffset().AtStart()
	}
	cl := client(append(opts, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{prefix + topic: parts}),
		kgo.FetchMaxBytes(1<<20), kgo.FetchMaxWait(500*time.Millisecond))...)
	defer cl.Close()
	var recs []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	extra := time.Time{}
	for {
		if len(recs) >= expect && extra.IsZero() {
			extra = time.Now().Add(time.Second)
		}
		if time.Now().After(deadline) || (!extra.IsZero() && time.Now().After(extra)) {
			break
		}
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(c)
		cancel()
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				fail("consume %s/%d: %v", t, p, err)
			}
		})
		recs = append(recs, fs.Records()...)
	}
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	return recs
}

// ---------------------------------------------------------------------------------------------

func quickstart() {
	out("create quickstart %s", create("quickstart", 1, 1, nil))
	waitTopic("quickstart", 1)
	lines := []string{"This is a message", "This is another message", "第三条消息"}
	var recs []*kgo.Record
	for _, l := range lines {
		recs = append(recs, &kgo.Record{Topic: prefix + "quickstart", Value: []byte(l)})
	}
	cl := client()
	_, err := produce(cl, recs)
	must(err, "produce")
	for _, r := range recs {
		out("produced quickstart p=%d o=%d", r.Partition, r.Offset)
	}
	for _, r := range consumeAssigned("quickstart", 1, 3) {
		out("consumed p=%d o=%d v=%s", r.Partition, r.Offset, r.Value)
	}
	td, err := adm().ListTopics(ctx)
	must(err, "list")
	for _, n := range td.Names() {
		if strings.HasPrefix(n, prefix) {
			out("list %s", strings.TrimPrefix(n, prefix))
		}
	}
	d := td[prefix+"quickstart"]
	for _, p := range d.Partitions.Sorted() {
		out("describe quickstart p=%d leader=%d replicas=%v isr=%v", p.Partition, p.Leader, p.Replicas, p.ISR)
	}
}

func keyed() {
	create("keyed", 6, 1, nil)
	waitTopic("keyed", 6)
	var recs []*kgo.Record
	for i := 0; i < 30; i++ {
		recs = append(recs, &kgo.Record{Topic: prefix + "keyed", Key: []byte(fmt.Sprintf("key-%d", i)), Value: []byte(fmt.Sprintf("v-%d", i))})
	}
	_, err := produce(client(), recs)
	must(err, "produce")
	where := map[string]int32{}
	for _, r := range recs {
		out("key %s p=%d", r.Key, r.Partition)
		where[string(r.Key)] = r.Partition
	}
	byPart := map[int32][]string{}
	for _, r := range consumeAssigned("keyed", 6, 30) {
		if where[string(r.Key)] != r.Partition {
			fail("%s consumed from another partition", r.Key)
		}
		byPart[r.Partition] = append(byPart[r.Partition], string(r.Key))
	}
	for p := int32(0); p < 6; p++ {
		if ks, ok := byPart[p]; ok {
			out("partition %d keys=%s", p, strings.Join(ks, ","))
		}
	}
}

func codecs() {
	codecs := []struct {
		name string
		c    kgo.CompressionCodec
	}{{"none", kgo.NoCompression()}, {"gzip", kgo.GzipCompression()}, {"snappy", kgo.SnappyCompression()},
		{"lz4", kgo.Lz4Compression()}, {"zstd", kgo.ZstdCompression()}}
	for _, c := range codecs {
		t := "codec-" + c.name
		create(t, 1, 1, nil)
		waitTopic(t, 1)
		var recs []*kgo.Record
		for i := 0; i < 10; i++ {
			recs = append(recs, &kgo.Record{Topic: prefix + t, Value: []byte(strings.Repeat(fmt.Sprintf("%s-%d-", c.name, i), 20))})
		}
		cl := client(kgo.ProducerBatchCompression(c.c), kgo.ProducerLinger(50*time.Millisecond))
		_, err := produce(cl, recs)
		must(err, "produce "+c.name)
		cl.Close()
		got := consumeAssigned(t, 1, 10)
		ok := len(got) == 10
		for i, r := range got {
			ok = ok && string(r.Value) == strings.Repeat(fmt.Sprintf("%s-%d-", c.name, i), 20)
		}
		out("codec %s produced=%d offsets=%d..%d consumed=%d values-ok=%s", c.name, len(recs), recs[0].Offset, recs[9].Offset, len(got), pyBool(ok))
	}
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

type tracked struct {
	mu  sync.Mutex
	set map[int32]bool
}

func (t *tracked) opts() []kgo.Opt {
	t.set = map[int32]bool{}
	upd := func(add bool) func(context.Context, *kgo.Client, map[string][]int32) {
		return func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			t.mu.Lock()
			defer t.mu.Unlock()
			for _, ps := range m {
				for _, p := range ps {
					if add {
						t.set[p] = true
					} else {
						delete(t.set, p)
					}
				}
			}
		}
	}
	return []kgo.Opt{kgo.OnPartitionsAssigned(upd(true)), kgo.OnPartitionsRevoked(upd(false)), kgo.OnPartitionsLost(upd(false))}
}

func (t *tracked) list() []int32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	var ps []int32
	for p := range t.set {
		ps = append(ps, p)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	return ps
}

func groupClient(t *tracked) *kgo.Client {
	return client(append(t.opts(), kgo.ConsumerGroup(prefix+"group"), kgo.ConsumeTopics(prefix+"group"),
		kgo.SessionTimeout(6*time.Second), kgo.HeartbeatInterval(time.Second), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(200*time.Millisecond))...)
}

func groupMember() {
	var t tracked
	cl := groupClient(&t)
	for {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		cl.PollFetches(c)
		cancel()
		fmt.Printf("assigned %d\n", len(t.list()))
	}
}

func group() {
	create("group", 4, 1, nil)
	waitTopic("group", 4)
	var recs []*kgo.Record
	for i := 0; i < 20; i++ {
		recs = append(recs, &kgo.Record{Topic: prefix + "group", Partition: int32(i % 4), Value: []byte(fmt.Sprintf("g-%d", i))})
	}
	_, err := produce(client(kgo.RecordPartitioner(kgo.ManualPartitioner())), recs)
	must(err, "produce")
	child := exec.Command(os.Args[0], "group-member", boot, prefix)
	stdout, _ := child.StdoutPipe()
	must(child.Start(), "start member")
	defer child.Process.Kill()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n, err := stdout.Read(buf)
		if err != nil {
			break
		}
		lines := strings.Split(strings.TrimSpace(string(buf[:n])), "\n")
		if l := lines[len(lines)-1]; l != "assigned 0" {
			break
		}
	}
	go func() { // keep the child's pipe drained
		for {
			if _, err := stdout.Read(buf); err != nil {
				return
			}
		}
	}()
	var t tracked
	cl := groupClient(&t)
	seen := map[string]bool{}
	poll := func() {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollFetches(c)
		cancel()
		for _, r := range fs.Records() {
			seen[string(r.Value)] = true
		}
	}
	sizes := "none"
	for deadline = time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		poll()
		if a := len(t.list()); a > 0 && a < 4 {
			s := []int{a, 4 - a}
			sort.Ints(s)
			sizes = fmt.Sprintf("%d+%d", s[0], s[1])
			break
		}
	}
	out("two-members assignment-sizes=%s", sizes)
	child.Process.Kill()
	child.Wait()
	for deadline = time.Now().Add(60 * time.Second); time.Now().Before(deadline) && (len(t.list()) < 4 || len(seen) < 20); {
		poll()
	}
	var ps []string
	for _, p := range t.list() {
		ps = append(ps, fmt.Sprint(p))
	}
	out("after-kill assignment=%s", strings.Join(ps, ","))
	out("after-kill consumed-distinct=%d", len(seen))
	cl.Close()
}

func offsets() {
	create("offsets", 1, 1, nil)
	waitTopic("offsets", 1)
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, &kgo.Record{Topic: prefix + "offsets", Value: []byte(fmt.Sprintf("o-%d", i))})
	}
	_, err := produce(client(), recs)
	must(err, "produce")
	a := adm()
	g := prefix + "offsets-g"
	committed := func() (int64, string) {
		r, err := a.FetchOffsets(ctx, g)
		must(err, "fetch offsets")
		o, ok := r.Lookup(prefix+"offsets", 0)
		if !ok {
			return -1, ""
		}
		return o.At, o.Metadata
	}
	at, _ := committed()
	out("before-commit committed=%d", at)
	var os_ kadm.Offsets
	os_.Add(kadm.Offset{Topic: prefix + "offsets", Partition: 0, At: 5, LeaderEpoch: -1, Metadata: "m5"})
	_, err = a.CommitOffsets(ctx, g, os_)
	must(err, "commit")
	at, md := committed()
	out("committed offset=%d metadata=%s", at, md)
	cl := client(kgo.ConsumerGroup(g), kgo.ConsumeTopics(prefix+"offsets"), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	first := int64(-1)
	for deadline := time.Now().Add(30 * time.Second); first < 0 && time.Now().Before(deadline); {
		c, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := cl.PollFetches(c)
		cancel()
		if rs := fs.Records(); len(rs) > 0 {
			first = rs[0].Offset
		}
	}
	out("resume first-offset=%d", first)
	cl.Close()
	os_ = nil
	os_.Add(kadm.Offset{Topic: prefix + "offsets", Partition: 0, At: 2, LeaderEpoch: -1})
	_, err = a.CommitOffsets(ctx, g, os_)
	must(err, "commit")
	at, _ = committed()
	out("reset committed=%d", at)
	lo, err := a.ListStartOffsets(ctx, prefix+"offsets")
	must(err, "start offsets")
	hi, err := a.ListEndOffsets(ctx, prefix+"offsets")
	must(err, "end offsets")
	l, _ := lo.Lookup(prefix+"offsets", 0)
	h, _ := hi.Lookup(prefix+"offsets", 0)
	out("watermarks low=%d high=%d", l.Offset, h.Offset)
}

func configValue(topic, key string) string {
	rcs, err := adm().DescribeTopicConfigs(ctx, prefix+topic)
	must(err, "describe configs")
	rc, err := rcs.On(prefix+topic, nil)
	must(err, "describe configs")
	must(rc.Err, "describe configs")
	for _, c := range rc.Configs {
		if c.Key == key {
			return fmt.Sprintf("%s=%s source=%s", key, c.MaybeValue(), c.Source)
		}
	}
	return key + " missing"
}

// alteredConfigValue is the config once the broker has applied the alter: a KRaft broker's metadata
// image may lag the controller's answer for a moment (Kafka's own tests wait for the value too).
func alteredConfigValue(topic, key, value string) string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		seen := configValue(topic, key)
		if strings.HasPrefix(seen, key+"="+value+" ") || time.Now().After(deadline) {
			return seen
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func adminScenario() {
	out("create admin-a %s", create("admin-a", 2, 1, map[string]*string{"retention.ms": str("3600000")}))
	waitTopic("admin-a", 2)
	out("describe %s", configValue("admin-a", "retention.ms"))
	out("describe %s", configValue("admin-a", "cleanup.policy"))
	a := adm()
	r, err := a.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "retention.ms", Value: str("7200000")}}, prefix+"admin-a")
	must(err, "alter")
	must(r[0].Err, "alter")
	out("altered %s", alteredConfigValue("admin-a", "retention.ms", "7200000"))
	cr, err := a.UpdatePartitions(ctx, 5, prefix+"admin-a")
	must(err, "create partitions")
	must(cr[prefix+"admin-a"].Err, "create partitions")
	waitTopic("admin-a", 5)
	td, _ := a.ListTopics(ctx, prefix+"admin-a")
	out("partitions admin-a %d", len(td[prefix+"admin-a"].Partitions))
	dr, err := a.DeleteTopics(ctx, prefix+"admin-a")
	must(err, "delete")
	must(dr[prefix+"admin-a"].Err, "delete")
	listed := true
	for deadline := time.Now().Add(30 * time.Second); listed && time.Now().Before(deadline); {
		td, _ := a.ListTopics(ctx)
		_, listed = td[prefix+"admin-a"]
		time.Sleep(200 * time.Millisecond)
	}
	out("deleted admin-a listed=%s", pyBool(listed))
}

func idempotent() {
	create("idempotent", 1, 1, nil)
	waitTopic("idempotent", 1)
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		recs = append(recs, &kgo.Record{Topic: prefix + "idempotent", Value: []byte(fmt.Sprintf("i-%d", i))})
	}
	_, err := produce(client(kgo.RequiredAcks(kgo.AllISRAcks())), recs) // idempotent is franz-go's default
	must(err, "produce")
	var offs []string
	for _, r := range recs {
		offs = append(offs, fmt.Sprint(r.Offset))
	}
	out("produced offsets=%s", strings.Join(offs, ","))
	got := consumeAssigned("idempotent", 1, 10)
	distinct := map[string]bool{}
	inOrder := len(got) == 10
	for i, r := range got {
		distinct[string(r.Value)] = true
		inOrder = inOrder && string(r.Value) == fmt.Sprintf("i-%d", i)
	}
	out("consumed=%d distinct=%d in-order=%s", len(got), len(distinct), pyBool(inOrder))
}

func txn() {
	create("txn", 1, 1, nil)
	waitTopic("txn", 1)
	cl := client(kgo.TransactionalID(prefix + "tx"))
	for _, step := range []struct {
		action string
		n      int
	}{{"commit", 3}, {"abort", 3}, {"commit2", 2}} {
		must(cl.BeginTransaction(), "begin")
		for i := 0; i < step.n; i++ {
			r := cl.ProduceSync(ctx, &kgo.Record{Topic: prefix + "txn", Value: []byte(fmt.Sprintf("%s-%d", step.action, i))})
			must(r.FirstErr(), "produce")
		}
		commit := kgo.TryCommit
		if step.action == "abort" {
			commit = kgo.TryAbort
		}
		must(cl.EndTransaction(ctx, commit), "end transaction")
		out("txn %s done", step.action)
	}
	cl.Close()
	for _, iso := range []struct {
		name string
		n    int
		lvl  kgo.IsolationLevel
	}{{"read_committed", 5, kgo.ReadCommitted()}, {"read_uncommitted", 8, kgo.ReadUncommitted()}} {
		var parts []string
		for _, r := range consumeAssigned("txn", 1, iso.n, kgo.FetchIsolationLevel(iso.lvl)) {
			parts = append(parts, fmt.Sprintf("%d:%s", r.Offset, r.Value))
		}
		out("%s %s", iso.name, strings.Join(parts, " "))
	}
	hi, err := adm().ListEndOffsets(ctx, prefix+"txn")
	must(err, "end offsets")
	h, _ := hi.Lookup(prefix+"txn", 0)
	out("end-offset %d", h.Offset)
}

func headers() {
	create("headers", 1, 1, nil)
	waitTopic("headers", 1)
	base := int64(1700000000000)
	hdrs := []kgo.RecordHeader{{Key: "h1", Value: []byte("a")}, {Key: "h2", Value: []byte("b")}, {Key: "h1", Value: []byte("c")}, {Key: "empty", Value: []byte("")}}
	recs := []*kgo.Record{
		{Topic: prefix + "headers", Key: []byte("k"), Value: []byte("with-headers"), Headers: hdrs, Timestamp: time.UnixMilli(base)},
		{Topic: prefix + "headers", Key: []byte("k"), Value: []byte("t1"), Timestamp: time.UnixMilli(base + 1000)},
		{Topic: prefix + "headers", Key: []byte("k"), Value: []byte("t2"), Timestamp: time.UnixMilli(base + 2000)},
	}
	_, err := produce(client(), recs)
	must(err, "produce")
	for _, r := range consumeAssigned("headers", 1, 3) {
		var hs []string
		for _, h := range r.Headers {
			hs = append(hs, h.Key+"="+string(h.Value))
		}
		out("record o=%d v=%s ts=%d type=%d headers=%s", r.Offset, r.Value, r.Timestamp.UnixMilli()-base, r.Attrs.TimestampType()+1, strings.Join(hs, ","))
	}
	a := adm()
	for _, t := range []int64{base - 1, base + 500, base + 2000, base + 5000} {
		lo, err := a.ListOffsetsAfterMilli(ctx, t, prefix+"headers")
		must(err, "offsets after milli")
		o, _ := lo.Lookup(prefix+"headers", 0)
		off := o.Offset
		if o.Timestamp == -1 && off >= 0 { // no record at or after t: Kafka answers offset -1
			off = -1
		}
		out("offset-for-time +%d -> %d", t-base, off)
	}
}

func large() {
	create("large", 1, 1, map[string]*string{"max.message.bytes": str("100000")})
	waitTopic("large", 1)
	cl := client(kgo.ProducerBatchCompression(kgo.NoCompression()))
	for _, c := range []struct {
		name string
		size int
		b    byte
	}{{"near-limit", 90000, 'x'}, {"over-limit", 200000, 'y'}} {
		r := &kgo.Record{Topic: prefix + "large", Value: []byte(strings.Repeat(string(c.b), c.size))}
		if _, err := produce(cl, []*kgo.Record{r}); err != nil {
			out("%s %s", c.name, errName(err))
		} else {
			out("%s ok o=%d", c.name, r.Offset)
		}
	}
	var parts []string
	for _, r := range consumeAssigned("large", 1, 1) {
		parts = append(parts, fmt.Sprintf("%d:%d", r.Offset, len(r.Value)))
	}
	out("consumed %s", strings.Join(parts, " "))
}

func errorsScenario() {
	td, err := adm().ListTopics(ctx, prefix+"no-such-topic")
	must(err, "metadata")
	out("metadata no-such-topic %s", errName(td[prefix+"no-such-topic"].Err))
	create("errors", 1, 1, nil)
	waitTopic("errors", 1)
	out("create existing %s", create("errors", 1, 1, nil))
	out("create rf=3 %s", create("errors-rf", 1, 3, nil))
	out("create bad-config %s", create("errors-cfg", 1, 1, map[string]*string{"cleanup.policy": str("bogus")}))
	out("create bad-name %s", create("bad name!", 1, 1, nil))
	out("create unknown-config %s", create("errors-unknown", 1, 1, map[string]*string{"no.such.config": str("1")}))
	rcs, err := adm().DescribeTopicConfigs(ctx, prefix+"no-such-topic-2")
	if err == nil {
		rc, e := rcs.On(prefix+"no-such-topic-2", nil)
		if e == nil {
			err = rc.Err
		} else {
			err = e
		}
	}
	out("describe-configs no-such-topic-2 %s", errName(err))
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: franz SCENARIO BOOTSTRAP PREFIX")
		os.Exit(2)
	}
	scenario := os.Args[1]
	boot, prefix = os.Args[2], os.Args[3]
	var cancel context.CancelFunc
	ctx, cancel = context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	scenarios := map[string]func(){"quickstart": quickstart, "keyed": keyed, "codecs": codecs, "group": group,
		"offsets": offsets, "admin": adminScenario, "idempotent": idempotent, "txn": txn, "headers": headers,
		"large": large, "errors": errorsScenario, "group-member": groupMember}
	f, ok := scenarios[scenario]
	if !ok {
		out("n/a: no scenario %s", scenario)
		os.Exit(64)
	}
	f()
}

// Scenarios as sarama sees them (config.Version = V4_1_0_0, the Kafka version under test; keyed
// records use sarama's murmur2 partitioner, the fair comparison with Java's default).
//
//	sarama SCENARIO BOOTSTRAP PREFIX
//
// Prints the normalised observation on stdout (names without PREFIX, no volatile values); exit 0 =
// the scenario's own checks passed, 64 = not applicable, anything else = failed. The contract is
// in compat-tests/README.md; every family prints the same lines where it can. Errors print as
// Kafka error codes (sarama's KError messages are prose).
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

	"github.com/IBM/sarama"
)

var boot, prefix string

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

func config() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V4_1_0_0
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewMurmur2Partitioner
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Metadata.AllowAutoTopicCreation = false
	return c
}

func errName(err error) string {
	if err == nil {
		return "ok"
	}
	var te *sarama.TopicError
	if errors.As(err, &te) {
		return fmt.Sprintf("error-%d", int16(te.Err))
	}
	var ke sarama.KError
	if errors.As(err, &ke) {
		return fmt.Sprintf("error-%d", int16(ke))
	}
	var pe *sarama.ProducerError
	if errors.As(err, &pe) {
		return errName(pe.Err)
	}
	return fmt.Sprintf("%T", err)
}

var adminOnce sarama.ClusterAdmin

func adm() sarama.ClusterAdmin {
	if adminOnce == nil {
		a, err := sarama.NewClusterAdmin([]string{boot}, config())
		must(err, "admin")
		adminOnce = a
	}
	return adminOnce
}

func str(s string) *string { return &s }

func create(name string, partitions int32, rf int16, configs map[string]*string) string {
	return errName(adm().CreateTopic(prefix+name, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf, ConfigEntries: configs}, false))
}

func waitTopic(name string, partitions int) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		md, err := adm().DescribeTopics([]string{prefix + name})
		if err == nil && len(md) == 1 && md[0].Err == sarama.ErrNoError && len(md[0].Partitions) == partitions {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	fail("topic %s not ready with %d partitions", name, partitions)
}

func producer(tweak func(*sarama.Config)) sarama.SyncProducer {
	c := config()
	if tweak != nil {
		tweak(c)
	}
	p, err := sarama.NewSyncProducer([]string{boot}, c)
	must(err, "producer")
	return p
}

func manual(c *sarama.Config) { c.Producer.Partitioner = sarama.NewManualPartitioner }

func consumeAssigned(topic string, partitions int, expect int, tweak func(*sarama.Config)) []*sarama.ConsumerMessage {
	c := config()
	c.Consumer.Fetch.Max = 1 << 20
	if tweak != nil {
		tweak(c)
	}
	cons, err := sarama.NewConsumer([]string{boot}, c)
	must(err, "consumer")
	defer cons.Close()
	ch := make(chan *sarama.ConsumerMessage, 1000)
	for p := 0; p < partitions; p++ {
		pc, err := cons.ConsumePartition(prefix+topic, int32(p), sarama.OffsetOldest)
		must(err, "consume partition")
		defer pc.AsyncClose()
		go func() {
			for m := range pc.Messages() {
				ch <- m
			}
		}()
	}
	var msgs []*sarama.ConsumerMessage
	deadline := time.After(30 * time.Second)
	extra := time.After(time.Hour)
loop:
	for {
		select {
		case m := <-ch:
			msgs = append(msgs, m)
			if len(msgs) == expect {
				extra = time.After(time.Second)
			}
		case <-deadline:
			break loop
		case <-extra:
			break loop
		}
	}
	sort.SliceStable(msgs, func(i, j int) bool {
		if msgs[i].Partition != msgs[j].Partition {
			return msgs[i].Partition < msgs[j].Partition
		}
		return msgs[i].Offset < msgs[j].Offset
	})
	return msgs
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// ---------------------------------------------------------------------------------------------

func quickstart() {
	out("create quickstart %s", create("quickstart", 1, 1, nil))
	waitTopic("quickstart", 1)
	p := producer(nil)
	for _, l := range []string{"This is a message", "This is another message", "第三条消息"} {
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "quickstart", Value: sarama.StringEncoder(l)})
		must(err, "produce")
		out("produced quickstart p=%d o=%d", part, off)
	}
	for _, m := range consumeAssigned("quickstart", 1, 3, nil) {
		out("consumed p=%d o=%d v=%s", m.Partition, m.Offset, m.Value)
	}
	ts, err := adm().ListTopics()
	must(err, "list")
	var names []string
	for n := range ts {
		if strings.HasPrefix(n, prefix) {
			names = append(names, strings.TrimPrefix(n, prefix))
		}
	}
	sort.Strings(names)
	for _, n := range names {
		out("list %s", n)
	}
	md, err := adm().DescribeTopics([]string{prefix + "quickstart"})
	must(err, "describe")
	for _, pm := range md[0].Partitions {
		out("describe quickstart p=%d leader=%d replicas=%v isr=%v", pm.ID, pm.Leader, pm.Replicas, pm.Isr)
	}
}

func keyed() {
	create("keyed", 6, 1, nil)
	waitTopic("keyed", 6)
	p := producer(nil)
	where := map[string]int32{}
	for i := 0; i < 30; i++ {
		k := fmt.Sprintf("key-%d", i)
		part, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "keyed", Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(fmt.Sprintf("v-%d", i))})
		must(err, "produce")
		out("key %s p=%d", k, part)
		where[k] = part
	}
	byPart := map[int32][]string{}
	for _, m := range consumeAssigned("keyed", 6, 30, nil) {
		if where[string(m.Key)] != m.Partition {
			fail("%s consumed from another partition", m.Key)
		}
		byPart[m.Partition] = append(byPart[m.Partition], string(m.Key))
	}
	for p := int32(0); p < 6; p++ {
		if ks, ok := byPart[p]; ok {
			out("partition %d keys=%s", p, strings.Join(ks, ","))
		}
	}
}

func codecs() {
	for _, c := range []struct {
		name string
		c    sarama.CompressionCodec
	}{{"none", sarama.CompressionNone}, {"gzip", sarama.CompressionGZIP}, {"snappy", sarama.CompressionSnappy}, {"lz4", sarama.CompressionLZ4}, {"zstd", sarama.CompressionZSTD}} {
		t := "codec-" + c.name
		create(t, 1, 1, nil)
		waitTopic(t, 1)
		p := producer(func(cfg *sarama.Config) { cfg.Producer.Compression = c.c; cfg.Producer.Flush.Frequency = 50 * time.Millisecond })
		var msgs []*sarama.ProducerMessage
		for i := 0; i < 10; i++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: prefix + t, Value: sarama.StringEncoder(strings.Repeat(fmt.Sprintf("%s-%d-", c.name, i), 20))})
		}
		must(p.SendMessages(msgs), "produce "+c.name)
		p.Close()
		got := consumeAssigned(t, 1, 10, nil)
		ok := len(got) == 10
		for i, m := range got {
			ok = ok && string(m.Value) == strings.Repeat(fmt.Sprintf("%s-%d-", c.name, i), 20)
		}
		out("codec %s produced=%d offsets=%d..%d consumed=%d values-ok=%s", c.name, len(msgs), msgs[0].Offset, msgs[9].Offset, len(got), pyBool(ok))
	}
}

type handler struct {
	mu       sync.Mutex
	assigned []int32
	seen     map[string]bool
	onChange func(int)
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	h.mu.Lock()
	h.assigned = append([]int32(nil), s.Claims()[prefix+"group"]...)
	sort.Slice(h.assigned, func(i, j int) bool { return h.assigned[i] < h.assigned[j] })
	n := len(h.assigned)
	h.mu.Unlock()
	if h.onChange != nil {
		h.onChange(n)
	}
	return nil
}
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(_ sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		h.mu.Lock()
		h.seen[string(m.Value)] = true
		h.mu.Unlock()
	}
	return nil
}

func groupRun(h *handler) sarama.ConsumerGroup {
	c := config()
	c.Consumer.Group.Session.Timeout = 6 * time.Second
	c.Consumer.Group.Heartbeat.Interval = time.Second
	c.Consumer.Offsets.AutoCommit.Enable = false
	g, err := sarama.NewConsumerGroup([]string{boot}, prefix+"group", c)
	must(err, "consumer group")
	go func() {
		for {
			if err := g.Consume(context.Background(), []string{prefix + "group"}, h); err != nil {
				return
			}
		}
	}()
	return g
}

func groupMember() {
	h := &handler{seen: map[string]bool{}, onChange: func(n int) { fmt.Printf("assigned %d\n", n) }}
	groupRun(h)
	select {}
}

func group() {
	create("group", 4, 1, nil)
	waitTopic("group", 4)
	p := producer(manual)
	for i := 0; i < 20; i++ {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "group", Partition: int32(i % 4), Value: sarama.StringEncoder(fmt.Sprintf("g-%d", i))})
		must(err, "produce")
	}
	child := exec.Command(os.Args[0], "group-member", boot, prefix)
	stdout, _ := child.StdoutPipe()
	must(child.Start(), "start member")
	defer child.Process.Kill()
	buf := make([]byte, 4096)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		n, err := stdout.Read(buf)
		if err != nil || strings.Contains(string(buf[:n]), "assigned 4") || strings.Contains(string(buf[:n]), "assigned 2") {
			break
		}
	}
	go func() {
		for {
			if _, err := stdout.Read(buf); err != nil {
				return
			}
		}
	}()
	h := &handler{seen: map[string]bool{}}
	g := groupRun(h)
	count := func() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.assigned) }
	sizes := "none"
	for deadline = time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if a := count(); a > 0 && a < 4 {
			s := []int{a, 4 - a}
			sort.Ints(s)
			sizes = fmt.Sprintf("%d+%d", s[0], s[1])
			break
		}
	}
	out("two-members assignment-sizes=%s", sizes)
	child.Process.Kill()
	child.Wait()
	seen := func() int { h.mu.Lock(); defer h.mu.Unlock(); return len(h.seen) }
	for deadline = time.Now().Add(60 * time.Second); time.Now().Before(deadline) && (count() < 4 || seen() < 20); {
		time.Sleep(100 * time.Millisecond)
	}
	h.mu.Lock()
	var ps []string
	for _, p := range h.assigned {
		ps = append(ps, fmt.Sprint(p))
	}
	h.mu.Unlock()
	out("after-kill assignment=%s", strings.Join(ps, ","))
	out("after-kill consumed-distinct=%d", seen())
	g.Close()
}

func offsets() {
	create("offsets", 1, 1, nil)
	waitTopic("offsets", 1)
	p := producer(nil)
	for i := 0; i < 10; i++ {
		_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "offsets", Value: sarama.StringEncoder(fmt.Sprintf("o-%d", i))})
		must(err, "produce")
	}
	g := prefix + "offsets-g"
	committed := func() (int64, string) {
		r, err := adm().ListConsumerGroupOffsets(g, map[string][]int32{prefix + "offsets": {0}})
		must(err, "fetch offsets")
		b := r.GetBlock(prefix+"offsets", 0)
		return b.Offset, b.Metadata
	}
	at, _ := committed()
	out("before-commit committed=%d", at)
	cl, err := sarama.NewClient([]string{boot}, config())
	must(err, "client")
	om, err := sarama.NewOffsetManagerFromClient(g, cl)
	must(err, "offset manager")
	pom, err := om.ManagePartition(prefix+"offsets", 0)
	must(err, "manage partition")
	pom.MarkOffset(5, "m5")
	om.Commit()
	at, md := committed()
	out("committed offset=%d metadata=%s", at, md)
	next, _ := pom.NextOffset()
	out("resume first-offset=%d", next)
	pom.ResetOffset(2, "")
	om.Commit()
	at, _ = committed()
	out("reset committed=%d", at)
	lo, err := cl.GetOffset(prefix+"offsets", 0, sarama.OffsetOldest)
	must(err, "oldest")
	hi, err := cl.GetOffset(prefix+"offsets", 0, sarama.OffsetNewest)
	must(err, "newest")
	out("watermarks low=%d high=%d", lo, hi)
}

func configValue(topic, key string) string {
	es, err := adm().DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: prefix + topic, ConfigNames: []string{key}})
	must(err, "describe config")
	for _, e := range es {
		if e.Name == key {
			return fmt.Sprintf("%s=%s default=%s source=%d", key, e.Value, pyBool(e.Default), e.Source)
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
	must(adm().IncrementalAlterConfig(sarama.TopicResource, prefix+"admin-a", map[string]sarama.IncrementalAlterConfigsEntry{
		"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: str("7200000")}}, false), "alter")
	out("altered %s", alteredConfigValue("admin-a", "retention.ms", "7200000"))
	must(adm().CreatePartitions(prefix+"admin-a", 5, nil, false), "create partitions")
	waitTopic("admin-a", 5)
	md, _ := adm().DescribeTopics([]string{prefix + "admin-a"})
	out("partitions admin-a %d", len(md[0].Partitions))
	must(adm().DeleteTopic(prefix+"admin-a"), "delete")
	listed := true
	for deadline := time.Now().Add(30 * time.Second); listed && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		ts, _ := adm().ListTopics()
		_, listed = ts[prefix+"admin-a"]
	}
	out("deleted admin-a listed=%s", pyBool(listed))
}

func idem(c *sarama.Config) {
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Partitioner = sarama.NewManualPartitioner
}

func idempotent() {
	create("idempotent", 1, 1, nil)
	waitTopic("idempotent", 1)
	p := producer(idem)
	var offs []string
	for i := 0; i < 10; i++ {
		_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "idempotent", Value: sarama.StringEncoder(fmt.Sprintf("i-%d", i))})
		must(err, "produce")
		offs = append(offs, fmt.Sprint(off))
	}
	out("produced offsets=%s", strings.Join(offs, ","))
	got := consumeAssigned("idempotent", 1, 10, nil)
	distinct := map[string]bool{}
	inOrder := len(got) == 10
	for i, m := range got {
		distinct[string(m.Value)] = true
		inOrder = inOrder && string(m.Value) == fmt.Sprintf("i-%d", i)
	}
	out("consumed=%d distinct=%d in-order=%s", len(got), len(distinct), pyBool(inOrder))
}

func txn() {
	create("txn", 1, 1, nil)
	waitTopic("txn", 1)
	p := producer(func(c *sarama.Config) { idem(c); c.Producer.Transaction.ID = prefix + "tx" })
	for _, step := range []struct {
		action string
		n      int
	}{{"commit", 3}, {"abort", 3}, {"commit2", 2}} {
		must(p.BeginTxn(), "begin")
		for i := 0; i < step.n; i++ {
			_, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "txn", Value: sarama.StringEncoder(fmt.Sprintf("%s-%d", step.action, i))})
			must(err, "produce")
		}
		if step.action == "abort" {
			must(p.AbortTxn(), "abort")
		} else {
			must(p.CommitTxn(), "commit")
		}
		out("txn %s done", step.action)
	}
	p.Close()
	for _, iso := range []struct {
		name string
		n    int
		lvl  sarama.IsolationLevel
	}{{"read_committed", 5, sarama.ReadCommitted}, {"read_uncommitted", 8, sarama.ReadUncommitted}} {
		var parts []string
		for _, m := range consumeAssigned("txn", 1, iso.n, func(c *sarama.Config) { c.Consumer.IsolationLevel = iso.lvl }) {
			parts = append(parts, fmt.Sprintf("%d:%s", m.Offset, m.Value))
		}
		out("%s %s", iso.name, strings.Join(parts, " "))
	}
	cl, err := sarama.NewClient([]string{boot}, config())
	must(err, "client")
	hi, err := cl.GetOffset(prefix+"txn", 0, sarama.OffsetNewest)
	must(err, "newest")
	out("end-offset %d", hi)
}

func headers() {
	create("headers", 1, 1, nil)
	waitTopic("headers", 1)
	base := int64(1700000000000)
	p := producer(manual)
	hs := []sarama.RecordHeader{{Key: []byte("h1"), Value: []byte("a")}, {Key: []byte("h2"), Value: []byte("b")}, {Key: []byte("h1"), Value: []byte("c")}, {Key: []byte("empty"), Value: []byte("")}}
	for i, v := range []string{"with-headers", "t1", "t2"} {
		m := &sarama.ProducerMessage{Topic: prefix + "headers", Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder(v), Timestamp: time.UnixMilli(base + int64(i)*1000)}
		if i == 0 {
			m.Headers = hs
		}
		_, _, err := p.SendMessage(m)
		must(err, "produce")
	}
	for _, m := range consumeAssigned("headers", 1, 3, nil) {
		var h []string
		for _, x := range m.Headers {
			h = append(h, string(x.Key)+"="+string(x.Value))
		}
		out("record o=%d v=%s ts=%d type=1 headers=%s", m.Offset, m.Value, m.Timestamp.UnixMilli()-base, strings.Join(h, ","))
	}
	cl, err := sarama.NewClient([]string{boot}, config())
	must(err, "client")
	for _, t := range []int64{base - 1, base + 500, base + 2000, base + 5000} {
		off, err := cl.GetOffset(prefix+"headers", 0, t)
		must(err, "offset for time")
		out("offset-for-time +%d -> %d", t-base, off)
	}
}

func large() {
	create("large", 1, 1, map[string]*string{"max.message.bytes": str("100000")})
	waitTopic("large", 1)
	p := producer(func(c *sarama.Config) { manual(c); c.Producer.Retry.Max = 0 })
	for _, c := range []struct {
		name string
		v    string
	}{{"near-limit", strings.Repeat("x", 90000)}, {"over-limit", strings.Repeat("y", 200000)}} {
		_, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: prefix + "large", Value: sarama.StringEncoder(c.v)})
		if err != nil {
			out("%s %s", c.name, errName(err))
		} else {
			out("%s ok o=%d", c.name, off)
		}
	}
	var parts []string
	for _, m := range consumeAssigned("large", 1, 1, nil) {
		parts = append(parts, fmt.Sprintf("%d:%d", m.Offset, len(m.Value)))
	}
	out("consumed %s", strings.Join(parts, " "))
}

func errorsScenario() {
	md, err := adm().DescribeTopics([]string{prefix + "no-such-topic"})
	if err == nil && len(md) == 1 {
		err = md[0].Err
		if md[0].Err == sarama.ErrNoError {
			err = nil
		}
	}
	out("metadata no-such-topic %s", errName(err))
	create("errors", 1, 1, nil)
	waitTopic("errors", 1)
	out("create existing %s", create("errors", 1, 1, nil))
	out("create rf=3 %s", create("errors-rf", 1, 3, nil))
	out("create bad-config %s", create("errors-cfg", 1, 1, map[string]*string{"cleanup.policy": str("bogus")}))
	out("create bad-name %s", create("bad name!", 1, 1, nil))
	out("create unknown-config %s", create("errors-unknown", 1, 1, map[string]*string{"no.such.config": str("1")}))
	_, err = adm().DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: prefix + "no-such-topic-2"})
	out("describe-configs no-such-topic-2 %s", errName(err))
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: sarama SCENARIO BOOTSTRAP PREFIX")
		os.Exit(2)
	}
	scenario := os.Args[1]
	boot, prefix = os.Args[2], os.Args[3]
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

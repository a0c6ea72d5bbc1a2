package zapsls

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/internal/pb"
)

// Destination names where entries go (DESIGN.md, "Destinations"). One
// Writer serves any number of destinations on its endpoint, with its
// credentials, buffer, batcher, posters, spool and Stats; the batcher keeps
// a batch per destination.
//
// An empty field means the Writer's own: its Config's Project, Logstore,
// Topic, Source, ShardKey and Processor, which together are the Writer's
// default destination. Strings SLS would refuse are refused (see
// Config's fields of the same names).
type Destination struct {
	Project  string `json:"project,omitempty" yaml:"project,omitempty"`
	Logstore string `json:"logstore,omitempty" yaml:"logstore,omitempty"`
	Topic    string `json:"topic,omitempty" yaml:"topic,omitempty"`
	Source   string `json:"source,omitempty" yaml:"source,omitempty"`
	// ShardKey, when set, sends entries to one shard, in order: requests
	// go to /logstores/LOGSTORE/shards/route?key=HASH, HASH being the MD5
	// of ShardKey rounded to one of Config.ShardHashBuckets ranges, as the
	// SDK producer's AdjustShargHash does. Entries without a key are
	// load-balanced (/shards/lb).
	ShardKey string `json:"shardKey,omitempty" yaml:"shardKey,omitempty"`
	// Processor is the ingest processor SLS applies to the entries (the
	// PutLogs processor query parameter).
	Processor string `json:"processor,omitempty" yaml:"processor,omitempty"`
}

// String names the destination without its shard key (which may be a
// user's id): "project/logstore", with the topic and processor when set.
func (d Destination) String() string {
	s := d.Project + "/" + d.Logstore
	if d.Topic != "" {
		s += " topic " + d.Topic
	}
	if d.Processor != "" {
		s += " processor " + d.Processor
	}
	return s
}

// over returns d with its empty fields taken from base.
func (d Destination) over(base Destination) Destination {
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	return Destination{
		Project:   pick(d.Project, base.Project),
		Logstore:  pick(d.Logstore, base.Logstore),
		Topic:     pick(d.Topic, base.Topic),
		Source:    pick(d.Source, base.Source),
		ShardKey:  pick(d.ShardKey, base.ShardKey),
		Processor: pick(d.Processor, base.Processor),
	}
}

// check refuses what SLS would refuse in every request to d, naming the
// field as Destination.FIELD.
func (d Destination) check() *ConfigError { return d.checkAs("Destination.") }

// checkAs is check with the fields named prefix+FIELD: "Destination." for
// a Destination, "" for a Config's default destination.
func (d Destination) checkAs(prefix string) *ConfigError {
	fail := func(field, format string, args ...interface{}) *ConfigError {
		return configErr(prefix+field, format, args...)
	}
	if problem := checkName(d.Project, false); problem != "" {
		return fail("Project", "%q: %s", d.Project, problem)
	}
	if problem := checkName(d.Logstore, true); problem != "" {
		return fail("Logstore", "%q: %s", d.Logstore, problem)
	}
	for _, f := range [...]struct{ name, value string }{{"Topic", d.Topic}, {"Source", d.Source}, {"Processor", d.Processor}} {
		if problem := checkText(f.value, MaxTopicBytes); problem != "" {
			return fail(f.name, "%q: %s", f.value, problem)
		}
	}
	return nil
}

// Routing fields re-route the entries of a logger made with them, when its
// core is a zapsls Core (NewCore): logger.With(zapsls.Logstore("audit"))
// sends the child's entries to the audit logstore, and a field given to a
// single log call re-routes that entry. They are zapcore.SkipType fields:
// every other core in a Tee (a console, a file) ignores them and prints
// nothing for them. An empty value restores the Writer's own.
func Logstore(name string) zapcore.Field {
	return routingField(Destination{Logstore: name}, setLogstore)
}

// Topic is the routing field that sets the destination's topic; see
// Logstore.
func Topic(topic string) zapcore.Field { return routingField(Destination{Topic: topic}, setTopic) }

// Source is the routing field that sets the destination's source; see
// Logstore.
func Source(source string) zapcore.Field {
	return routingField(Destination{Source: source}, setSource)
}

// ShardKey is the routing field that keeps entries with the same key on one
// shard, in order (Destination.ShardKey); see Logstore.
func ShardKey(key string) zapcore.Field {
	return routingField(Destination{ShardKey: key}, setShardKey)
}

// Route is the routing field that sets every non-empty field of d; see
// Logstore.
func Route(d Destination) zapcore.Field {
	var set routeFields
	for _, f := range []struct {
		v   string
		bit routeFields
	}{{d.Project, setProject}, {d.Logstore, setLogstore}, {d.Topic, setTopic}, {d.Source, setSource}, {d.ShardKey, setShardKey}, {d.Processor, setProcessor}} {
		if f.v != "" {
			set |= f.bit
		}
	}
	return routingField(d, set)
}

// routeFields says which fields of a Destination a routing field sets.
type routeFields uint8

const (
	setProject routeFields = 1 << iota
	setLogstore
	setTopic
	setSource
	setShardKey
	setProcessor
)

// routing is the value of a routing field.
type routing struct {
	d   Destination
	set routeFields
}

func routingField(d Destination, set routeFields) zapcore.Field {
	return zapcore.Field{Type: zapcore.SkipType, Interface: routing{d: d, set: set}}
}

// applyRouting returns d changed by the routing fields among fields, and
// whether there were any. It is on every entry's path: it allocates
// nothing, and costs a comparison per field when there is none.
func applyRouting(d Destination, fields []zapcore.Field) (Destination, bool) {
	found := false
	for i := range fields {
		if fields[i].Type != zapcore.SkipType {
			continue
		}
		if r, ok := fields[i].Interface.(routing); ok {
			d = r.over(d)
			found = true
		}
	}
	return d, found
}

// over returns d with the fields r sets replaced.
func (r routing) over(d Destination) Destination {
	if r.set&setProject != 0 {
		d.Project = r.d.Project
	}
	if r.set&setLogstore != 0 {
		d.Logstore = r.d.Logstore
	}
	if r.set&setTopic != 0 {
		d.Topic = r.d.Topic
	}
	if r.set&setSource != 0 {
		d.Source = r.d.Source
	}
	if r.set&setShardKey != 0 {
		d.ShardKey = r.d.ShardKey
	}
	if r.set&setProcessor != 0 {
		d.Processor = r.d.Processor
	}
	return d
}

// route is a destination compiled for posting: the request's path, URL and
// Host, and the LogGroup fields every batch to it ends with. Routes are
// built once and never change, but for their counters, so batches and
// posters share them freely.
type route struct {
	id      uint32
	dest    Destination // with the Writer's defaults filled in; ShardKey cleared
	hashKey string      // the shard hash key sent, "" for load-balanced
	uri     string      // the path and query as signed
	url     string      // scheme://host/uri, the address dialled
	reqHost string      // the Host header: PROJECT.ENDPOINT-HOST
	// groupTail is Topic, Source and LogTags, encoded once.
	groupTail []byte
	// maxBody is the most framed-Log bytes one batch to this route holds:
	// MaxBatchBytes less the group's tail and its pack id.
	maxBody int

	delivered, dropped, failed, spooled atomic.Uint64

	// lastSeal is when the batcher last sealed a batch to this route
	// (batchLimit); only the batcher goroutine touches it.
	lastSeal time.Time

	// Batches to a shard hash key are posted one at a time, in the order
	// the batcher sealed them, so that one key's entries stay in order on
	// its shard. sealed is the batcher's count; turn, under turnMu, is the
	// sequence number of the batch whose turn it is.
	sealed uint64
	turnMu sync.Mutex
	turnC  *sync.Cond
	turn   uint64
}

// ordered reports whether batches to r must be posted one at a time, in
// order.
func (r *route) ordered() bool { return r.hashKey != "" }

// waitTurn blocks until it is the turn of the batch sealed seq-th.
func (r *route) waitTurn(seq uint64) {
	r.turnMu.Lock()
	for r.turn != seq {
		r.turnC.Wait()
	}
	r.turnMu.Unlock()
}

// endTurn passes the turn to the next batch.
func (r *route) endTurn() {
	r.turnMu.Lock()
	r.turn++
	r.turnMu.Unlock()
	r.turnC.Broadcast()
}

// routeKey identifies a route: a destination with its shard key hashed.
type routeKey struct {
	project, logstore, topic, source, hashKey, processor string
}

// maxRoutes bounds the destinations of one Writer. Beyond it, a core keeps
// its parent's destination and OnError says why.
const maxRoutes = 4096

// routes is the Writer's table of destinations. Cores resolve a
// Destination to a route id when they are made (NewCore, With), and the id
// travels with each entry through the buffer; the batcher and the spool
// look routes up by id. Lookups by id take no lock.
type routes struct {
	cfg     *Config
	ep      endpoint
	buckets int
	base    Destination // the Writer's default destination

	mu    sync.Mutex
	byKey map[routeKey]*route
	table atomic.Pointer[[]*route] // by id; replaced, never changed, when one is added
}

func newRoutes(cfg *Config, ep endpoint) (*routes, error) {
	rs := &routes{cfg: cfg, ep: ep, buckets: cfg.ShardHashBuckets, byKey: map[routeKey]*route{}}
	rs.base = Destination{
		Project: cfg.Project, Logstore: cfg.Logstore, Topic: cfg.Topic, Source: cfg.Source,
		ShardKey: cfg.ShardKey, Processor: cfg.Processor,
	}
	empty := []*route{}
	rs.table.Store(&empty)
	if _, err := rs.resolve(Destination{}); err != nil {
		return nil, err
	}
	return rs, nil
}

// get returns the route with id: safe for concurrent use, lock-free.
func (rs *routes) get(id uint32) *route { return (*rs.table.Load())[id] }

// all returns every route, by id.
func (rs *routes) all() []*route { return *rs.table.Load() }

// resolve returns the route of d over the Writer's default destination,
// adding it on first use. The default destination is id 0.
func (rs *routes) resolve(d Destination) (*route, error) {
	return rs.resolveExact(d.over(rs.base))
}

// resolveExact is resolve without the Writer's defaults: an empty topic,
// source, shard key or processor is sent as none.
func (rs *routes) resolveExact(d Destination) (*route, error) {
	if err := d.check(); err != nil {
		return nil, err
	}
	key := routeKey{project: d.Project, logstore: d.Logstore, topic: d.Topic, source: d.Source, processor: d.Processor}
	if d.ShardKey != "" {
		key.hashKey = shardHash(d.ShardKey, rs.buckets)
	}
	return rs.lookup(key)
}

// lookup returns the route for key, adding it on first use.
func (rs *routes) lookup(key routeKey) (*route, error) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if r, ok := rs.byKey[key]; ok {
		return r, nil
	}
	table := *rs.table.Load()
	if len(table) >= maxRoutes {
		return nil, fmt.Errorf("zapsls: more than %d destinations on one Writer: %s keeps its parent's (use fewer topics or shard keys, or Config.ShardHashBuckets)",
			maxRoutes, Destination{Project: key.project, Logstore: key.logstore, Topic: key.topic})
	}
	r := rs.compile(key)
	r.id = uint32(len(table))
	next := append(slices.Clip(table), r)
	rs.table.Store(&next)
	rs.byKey[key] = r
	return r, nil
}

// compile builds the route for key.
func (rs *routes) compile(key routeKey) *route {
	r := &route{
		dest:    Destination{Project: key.project, Logstore: key.logstore, Topic: key.topic, Source: key.source, Processor: key.processor},
		hashKey: key.hashKey,
		reqHost: key.project + "." + rs.ep.host,
	}
	r.turnC = sync.NewCond(&r.turnMu)
	// The paths and parameters of the SDK's PutLogs (log_store.go):
	// /shards/route?key= with a hash key, the logstore itself with only a
	// processor, and the documented load-balanced path otherwise.
	params := url.Values{}
	switch {
	case key.hashKey != "":
		r.uri = "/logstores/" + key.logstore + "/shards/route"
		params.Set("key", key.hashKey)
	case key.processor != "":
		r.uri = "/logstores/" + key.logstore
	default:
		r.uri = "/logstores/" + key.logstore + "/shards/lb"
	}
	if key.processor != "" {
		params.Set("processor", key.processor)
	}
	if len(params) > 0 {
		r.uri += "?" + params.Encode()
	}
	dialTo := r.reqHost
	if rs.ep.dialTo == rs.ep.host { // an IP address or localhost: dialled directly
		dialTo = rs.ep.host
	}
	r.url = rs.ep.scheme + "://" + dialTo + r.uri
	if key.topic != "" {
		r.groupTail = pb.AppendString(r.groupTail, pb.TagGroupTopic, key.topic)
	}
	if key.source != "" {
		r.groupTail = pb.AppendString(r.groupTail, pb.TagGroupSource, key.source)
	}
	for _, k := range slices.Sorted(maps.Keys(rs.cfg.Tags)) {
		r.groupTail = pb.AppendPair(r.groupTail, pb.TagGroupTag, k, rs.cfg.Tags[k])
	}
	r.maxBody = rs.cfg.MaxBatchBytes - len(r.groupTail) - packIDTagMax
	return r
}

// shardHash is the hash key of a shard key: its MD5 in hex, rounded to one
// of buckets equal ranges by keeping its leading bits, exactly as the SDK
// producer's AdjustHash (producer/adjusthash.go) does, so that a key lands
// on the shard it would land on through the producer.
func shardHash(key string, buckets int) string {
	sum := md5.Sum([]byte(key))
	if buckets <= 0 {
		return hex.EncodeToString(sum[:])
	}
	var out [32]byte
	i := 0
	for ; buckets > 0 && i < 32; i++ {
		nibble := sum[i>>1] >> 4
		if i&1 == 1 {
			nibble = sum[i>>1] & 0xF
		}
		out[i] = "0123456789abcdef"[keepBits(nibble, buckets)]
		buckets >>= 4
	}
	for ; i < 32; i++ {
		out[i] = '0'
	}
	return string(out[:])
}

// keepBits keeps the leading bits of a hex digit that buckets (what is left
// of the bucket count at this digit) needs: 4 for 16 or more, 3 for 8, 2
// for 4, 1 for 2, none for 1 (the SDK's getBitValue).
func keepBits(v byte, buckets int) byte {
	switch {
	case buckets >= 16:
		return v
	case buckets >= 8:
		return v & 0xE
	case buckets >= 4:
		return v & 0xC
	case buckets >= 2:
		return v & 0x8
	}
	return 0
}

// DestinationStats are the counters of one destination (Stats.Destinations).
type DestinationStats struct {
	Destination Destination `json:"destination"`
	// HashKey is the shard hash key requests to it carry, "" when
	// load-balanced.
	HashKey   string `json:"hashKey,omitempty"`
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"`
	Failed    uint64 `json:"failed"`
	Spooled   uint64 `json:"spooled"`
}

// destinationStats returns the counters of every destination that saw an
// entry, sorted by project, logstore, topic, source, processor and hash key.
func (rs *routes) destinationStats() []DestinationStats {
	var out []DestinationStats
	for _, r := range rs.all() {
		s := DestinationStats{
			Destination: r.dest, HashKey: r.hashKey,
			Delivered: r.delivered.Load(), Dropped: r.dropped.Load(), Failed: r.failed.Load(), Spooled: r.spooled.Load(),
		}
		if s.Delivered+s.Dropped+s.Failed+s.Spooled > 0 {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		ka := [...]string{a.Destination.Project, a.Destination.Logstore, a.Destination.Topic, a.Destination.Source, a.Destination.Processor, a.HashKey}
		kb := [...]string{b.Destination.Project, b.Destination.Logstore, b.Destination.Topic, b.Destination.Source, b.Destination.Processor, b.HashKey}
		return slices.Compare(ka[:], kb[:]) < 0
	})
	return out
}

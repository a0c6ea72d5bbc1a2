package zapsls

import (
	"fmt"
	"net/http"
	"os"
	"runtime/debug"
	"strings"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// Environment variables read when Config names no credentials.
const (
	EnvAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	EnvAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	EnvSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// Defaults and bounds of Config. The batch bounds are those of the PutLogs
// API (see sls-protocol facts in README.md).
const (
	// DefaultBufferBytes, 16 MiB, lets a busy service ride out a short
	// outage of SLS or of its network (a connection reset, a DNS or load
	// balancer failover, an endpoint restart: seconds to tens of seconds)
	// without a SpoolDir: it holds about 15 s of 2,000 entries/s of 550
	// bytes (the SDK's benchmark entry) beside the batches the
	// MaxInflight posters retry meanwhile (about 5 s more), and a minute
	// or more below 270 entries/s. Memory is taken only while a backlog
	// waits, but in an outage or a burst the cap is what the buffer
	// costs: at 16 MiB a 400,000-entry burst peaks within 40 MiB of zap
	// writing to a file (README.md, "Benchmarks"), and two Writers in an
	// outage within 32 MiB. Longer outages need SpoolDir or a larger
	// BufferBytes.
	DefaultBufferBytes     = 16 << 20
	DefaultMaxBatchBytes   = 3 << 20
	MaxBatchBytesLimit     = 10 << 20
	DefaultMaxBatchCount   = 4096
	MaxBatchCountLimit     = 4096
	DefaultLinger          = time.Second
	DefaultMaxInflight     = 4
	DefaultBlockTimeout    = time.Second
	DefaultRequestTimeout  = 15 * time.Second
	DefaultRetryTimeout    = time.Minute
	DefaultRetryBackoff    = 100 * time.Millisecond
	DefaultRetryBackoffMax = 5 * time.Second
	DefaultSyncTimeout     = 10 * time.Second
	DefaultCloseTimeout    = 10 * time.Second
	// DefaultShardHashBuckets is the SDK producer's default Buckets.
	DefaultShardHashBuckets = 64
)

// Full-buffer policies for Config.OnFull.
const (
	// OnFullBlock makes Write wait for space while the sender makes
	// progress, and drop the entry (counted in Stats.Dropped and reported)
	// when BlockTimeout passes without the sender freeing any. Such a
	// timeout marks the sender stalled: later Writes that find the buffer
	// full drop at once, without waiting, until the sender frees space
	// again, so a stall costs callers one BlockTimeout, not one per call.
	OnFullBlock = "block"
	// OnFullDrop drops the newest entry at once.
	OnFullDrop = "drop"
)

// Compression names for Config.Compression.
const (
	CompressLZ4  = "lz4"
	CompressZstd = "zstd"
	CompressNone = "none"
)

// Config configures a Writer. The zero value of every field but Endpoint,
// Project and Logstore means its default.
//
// Config decodes from JSON (UnmarshalJSON), from YAML (UnmarshalYAML, for
// gopkg.in/yaml.v2 and v3; sigs.k8s.io/yaml goes through JSON) and from a
// sink URL (ConfigFromURL), with the keys of the json tags, one grammar in
// all three: sizes are bytes or have a unit ("16MiB", "512KiB"), durations
// have a unit ("500ms", "5s"; a bare number other than 0 is refused), and
// an unknown key is an error naming it. Errors, from decoding and from
// NewWriter, are *ConfigError naming the field. fmt prints a Config with
// its secrets redacted; MarshalJSON and MarshalYAML leave them out.
type Config struct {
	// Endpoint is the SLS endpoint: a host ("cn-hangzhou.log.aliyuncs.com",
	// HTTPS), or a URL with http:// or https://, with an optional port and
	// an optional trailing slash (dropped). Requests carry Host:
	// PROJECT.ENDPOINT-HOST; when the host is an IP address or localhost,
	// the Writer connects to it directly. An endpoint that already begins
	// with "PROJECT." is taken as the full host (the project is not added
	// twice). NewWriter refuses a path, query, fragment, user info, empty
	// host or port outside 1 to 65535: spellings that can never deliver.
	Endpoint string `json:"endpoint" yaml:"endpoint"`
	Project  string `json:"project" yaml:"project"`
	Logstore string `json:"logstore" yaml:"logstore"`
	// Topic and Source are the LogGroup's __topic__ and __source__ (at most
	// 128 bytes). An empty Source is sent as the host name.
	Topic  string `json:"topic" yaml:"topic"`
	Source string `json:"source" yaml:"source"`
	// Tags are LogTags sent with every batch (__tag__:KEY in SLS).
	Tags map[string]string `json:"tags" yaml:"tags"`
	// ShardKey, when set, sends the default destination's entries to one
	// shard, in order (see Destination.ShardKey); ShardHashBuckets is how
	// many hash ranges shard keys are rounded to, so that the entries of
	// many keys still share a few large batches: a power of two from 1 to
	// 256, default 64, as the SDK producer's Buckets. Processor is the
	// ingest processor of the default destination (the PutLogs processor
	// parameter). Cores choose other destinations with WithDestination and
	// routing fields; sls:// URLs with their path and parameters.
	ShardKey         string `json:"shardKey" yaml:"shardKey"`
	ShardHashBuckets int    `json:"shardHashBuckets" yaml:"shardHashBuckets"`
	Processor        string `json:"processor" yaml:"processor"`

	// AccessKeyID, AccessKeySecret and SecurityToken are static
	// credentials. Credentials, when set, wins over them and over
	// CredentialsFrom; with none of them, the ALIBABA_CLOUD_* environment
	// variables are read once, at NewWriter.
	AccessKeyID     string                  `json:"accessKeyId" yaml:"accessKeyId"`
	AccessKeySecret string                  `json:"accessKeySecret" yaml:"accessKeySecret"`
	SecurityToken   string                  `json:"securityToken" yaml:"securityToken"`
	Credentials     sls.CredentialsProvider `json:"-" yaml:"-"`
	// CredentialsFrom takes credentials from a source of the Alibaba Cloud
	// credentials chain (github.com/aliyun/credentials-go): "default" (the
	// whole chain), "env", "oidc" (RRSA on ACK), "profile" (the CLI's
	// profile file) or "ecs-ram-role" (the CredentialsDefault... constants).
	// Temporary credentials are renewed before they expire. It cannot be
	// combined with static credentials. NewWriter reads the "env" and
	// "profile" sources once, to fail early naming this field; the others
	// are first asked at the first request, and their failures are
	// delivery errors (*CredentialsError in Stats.LastError and OnError).
	CredentialsFrom string `json:"credentials" yaml:"credentials"`
	// RAMRole is the ECS instance's RAM role for CredentialsFrom
	// "ecs-ram-role"; empty asks the metadata service for it.
	RAMRole string `json:"ramRole" yaml:"ramRole"`
	// SignatureVersion is "v1" (default, hmac-sha1) or "v4"
	// (SLS4-HMAC-SHA256, which needs Region).
	SignatureVersion string `json:"signatureVersion" yaml:"signatureVersion"`
	Region           string `json:"region" yaml:"region"`

	// Compression is "lz4" (default), "zstd" or "none".
	Compression string `json:"compression" yaml:"compression"`

	// BufferBytes caps the memory between callers and the sender, in
	// bytes: entries and an 8-byte header each, padded to 8 bytes. It is
	// a cap, not an allocation: the buffer takes memory in 64 KiB
	// segments as entries wait and gives it back within seconds once the
	// sender has taken them into a batch, keeping 1 MiB spare (see
	// README.md, "Memory"). Default DefaultBufferBytes (16 MiB), or twice
	// MaxBatchBytes when that is more; it must be at least twice
	// MaxBatchBytes.
	BufferBytes int `json:"bufferBytes" yaml:"bufferBytes"`
	// OnFull is what Write does when the buffer is full: "block" (default)
	// waits for space, and drops only when BlockTimeout passes without the
	// sender freeing any (a stalled sender, not a busy one), after which
	// Writes drop at once until the sender frees space again (see
	// OnFullBlock); "drop" drops at once.
	OnFull       string        `json:"onFull" yaml:"onFull"`
	BlockTimeout time.Duration `json:"blockTimeout" yaml:"blockTimeout"`

	// MaxBatchBytes bounds a request's uncompressed body: default 3 MiB,
	// at most 10 MiB. Batches reach it only under heavy traffic: a batch
	// is sent at 128 KiB unless its destination's previous batch left
	// less than 50 ms before (DESIGN.md, "Memory"). MaxBatchCount bounds
	// its logs: default and maximum 4096. Linger is how long the first
	// entry of a batch waits for others (default 1s); Sync and Close never
	// wait for it.
	MaxBatchBytes int           `json:"maxBatchBytes" yaml:"maxBatchBytes"`
	MaxBatchCount int           `json:"maxBatchCount" yaml:"maxBatchCount"`
	Linger        time.Duration `json:"linger" yaml:"linger"`
	// MaxInflight is how many requests may be in flight at once (default 4).
	MaxInflight int `json:"maxInflight" yaml:"maxInflight"`

	// RequestTimeout bounds one HTTP attempt (default 15s). RetryTimeout is
	// a batch's retry budget, from its first attempt (default 1m).
	RequestTimeout time.Duration `json:"requestTimeout" yaml:"requestTimeout"`
	RetryTimeout   time.Duration `json:"retryTimeout" yaml:"retryTimeout"`
	// RetryBackoff is the delay before a batch's first retry; each retry
	// doubles it, up to RetryBackoffMax (defaults 100ms and 5s), and each
	// delay is drawn at random from the upper half of its value (jitter).
	// Quota errors (WriteQuotaExceed, ShardWriteQuotaExceed, HTTP 429) back
	// off harder: from 5 x RetryBackoff up to 2 x RetryBackoffMax. Every
	// retry stays within RetryTimeout.
	RetryBackoff    time.Duration `json:"retryBackoff" yaml:"retryBackoff"`
	RetryBackoffMax time.Duration `json:"retryBackoffMax" yaml:"retryBackoffMax"`
	// SyncTimeout bounds Sync, and the synchronous flush after a DPanic,
	// Panic or Fatal entry (default 10s). CloseTimeout bounds Close
	// (default 10s).
	SyncTimeout  time.Duration `json:"syncTimeout" yaml:"syncTimeout"`
	CloseTimeout time.Duration `json:"closeTimeout" yaml:"closeTimeout"`

	// SpoolDir, when set, keeps batches that cannot be delivered (Close's
	// deadline passed, the retry budget ran out, SLS refused the
	// credentials or the logstore) on disk, and the next Writer opening the
	// directory delivers them first. SpoolMaxBytes bounds it (default 1
	// GiB); past it the oldest files are deleted and counted in
	// Stats.SpoolEvicted. Replay is guarded by a lock file
	// (github.com/gofrs/flock: flock on Unix, LockFileEx on Windows).
	SpoolDir      string `json:"spoolDir" yaml:"spoolDir"`
	SpoolMaxBytes int    `json:"spoolMaxBytes" yaml:"spoolMaxBytes"`

	// Lines says how the Writer reads JSON lines, console lines and the
	// "sls" encoding of zap.Config, and applies the message and built-in
	// options of NewEncoder to them: see LineOptions. In sink URLs its
	// keys are parameters under "lines.": lines.messageJSON=true,
	// lines.messageJSON.prefix=m_, lines.builtinRoot=meta.
	Lines LineOptions `json:"lines" yaml:"lines"`

	// HTTPClient sends the requests. The default has keep-alive connections
	// for MaxInflight requests, verifies TLS certificates, and bounds each
	// attempt by RequestTimeout. The Writer uses a copy of it (sharing its
	// Transport, and so its connections) that never follows a redirect:
	// SLS does not redirect, and a redirect would carry the request, its
	// body and its security token, to another host.
	HTTPClient *http.Client `json:"-" yaml:"-"`
	// UserAgent is the User-Agent of every request, as the service's
	// access logs show it. Default: "zapsls-go/VERSION", VERSION being
	// zapsls's module version as the build records it ("devel" when it
	// records none). NewWriter refuses control characters.
	UserAgent string `json:"userAgent" yaml:"userAgent"`
	// OnError receives every background error: failed, spooled or dropped
	// entries, and each retried attempt (*RetryError). It is called on one
	// goroutine of the Writer's own, never on a logging goroutine, one
	// report at a time, before any Sync returns the same failure. It may
	// log, even into this Writer: an entry it logs never waits for buffer
	// space (when the buffer is full it is dropped and counted in
	// Stats.ReportsSuppressed, not reported again). Reports that come faster
	// than it takes them are coalesced into one *CoalescedError
	// (Stats.ReportsCoalesced); reports after Close are only counted. The
	// default writes to stderr, at most one line per second, with counts of
	// what it skipped.
	OnError func(error) `json:"-" yaml:"-"`
	// OnDelivered, when set, is called once for each batch SLS
	// acknowledged (HTTP 200), with what it held and how it went (see
	// Delivery). It is called from the Writer's goroutine that posted the
	// batch, never from Write or a logging call, before any Sync covering
	// the batch returns. It must be safe for concurrent use (MaxInflight
	// posters call it) and quick: the poster that calls it waits.
	OnDelivered func(Delivery) `json:"-" yaml:"-"`
}

// Delivery describes one batch SLS acknowledged, for Config.OnDelivered.
type Delivery struct {
	// Project, Logstore, Topic and Source are the batch's destination.
	// Topic and Source are empty for a replayed batch: its body carries
	// those of the Writer that spooled it.
	Project, Logstore, Topic, Source string
	// HashKey is the shard hash key the batch went to ("" when
	// load-balanced), Processor its ingest processor.
	HashKey, Processor string
	// Entries is the number of entries (Logs) in the batch.
	Entries int
	// RawBytes is the size of the uncompressed LogGroup; WireBytes, of the
	// body as sent (compressed).
	RawBytes, WireBytes int
	// RequestID is the service's x-log-requestid of the acknowledgement.
	RequestID string
	// Attempts is the number of attempts zapsls made (1 when the first
	// succeeded; a resend by net/http on a closed keep-alive connection is
	// not an attempt).
	Attempts int
	// Latency is the time from the first attempt to the acknowledgement,
	// retries and their backoff included.
	Latency time.Duration
	// Replayed is true for a batch that an earlier Writer kept in SpoolDir.
	Replayed bool
}

// String prints the Config with AccessKeyID, AccessKeySecret and SecurityToken
// redacted.
func (c Config) String() string {
	type plain Config
	p := plain(c)
	if p.AccessKeyID != "" { // not a secret, but a credential: as the errors scrub it
		p.AccessKeyID = "REDACTED"
	}
	if p.AccessKeySecret != "" {
		p.AccessKeySecret = "REDACTED"
	}
	if p.SecurityToken != "" {
		p.SecurityToken = "REDACTED"
	}
	return fmt.Sprintf("%+v", p)
}

// GoString is String, so that %#v does not print secrets either.
func (c Config) GoString() string { return c.String() }

// withDefaults returns c with defaults filled in, or an error naming the
// first field that is wrong.
func (c Config) withDefaults() (Config, endpoint, error) {
	var ep endpoint
	fail := func(field, format string, args ...interface{}) (Config, endpoint, error) {
		return c, ep, configErr(field, format, args...)
	}
	if c.Source == "" {
		c.Source = hostSource()
	}
	if err := c.checkNames(); err != nil {
		return c, ep, err
	}
	ep, err := parseEndpoint(c.Endpoint, c.Project)
	if err != nil {
		return c, ep, err
	}
	switch strings.ToLower(c.SignatureVersion) {
	case "", "v1", "1":
		c.SignatureVersion = "v1"
	case "v4", "4":
		c.SignatureVersion = "v4"
		if c.Region == "" {
			return fail("Region", "required with SignatureVersion v4 (for example cn-hangzhou)")
		}
	default:
		return fail("SignatureVersion", "%q: want v1 or v4", c.SignatureVersion)
	}
	switch strings.ToLower(c.Compression) {
	case "", CompressLZ4:
		c.Compression = CompressLZ4
	case CompressZstd, CompressNone:
		c.Compression = strings.ToLower(c.Compression)
	default:
		return fail("Compression", "%q: want lz4, zstd or none", c.Compression)
	}
	if c.RAMRole != "" && c.CredentialsFrom != CredentialsECSRAMRole {
		return fail("RAMRole", "only with CredentialsFrom %q", CredentialsECSRAMRole)
	}
	if c.Credentials == nil && c.CredentialsFrom != "" {
		if c.AccessKeyID != "" || c.AccessKeySecret != "" || c.SecurityToken != "" {
			return fail("CredentialsFrom", "%q cannot be combined with static credentials (AccessKeyID, AccessKeySecret, SecurityToken)", c.CredentialsFrom)
		}
		p, err := NewCredentialsProvider(c.CredentialsFrom, c.RAMRole)
		if err != nil {
			return fail("CredentialsFrom", "%v", err)
		}
		if c.CredentialsFrom == CredentialsEnv || c.CredentialsFrom == CredentialsProfile {
			if _, err := p.GetCredentials(); err != nil {
				return fail("CredentialsFrom", "%s", err.(*CredentialsError).Problem)
			}
		}
		c.Credentials = p
	}
	if c.Credentials == nil {
		switch {
		case c.AccessKeyID == "" && c.AccessKeySecret == "" && c.SecurityToken == "":
			c.AccessKeyID = os.Getenv(EnvAccessKeyID)
			c.AccessKeySecret = os.Getenv(EnvAccessKeySecret)
			c.SecurityToken = os.Getenv(EnvSecurityToken)
			switch {
			case c.AccessKeyID == "" && c.AccessKeySecret == "":
				return fail("AccessKeyID", "no credentials: set %s and %s, CredentialsFrom (for example \"default\", the Alibaba Cloud chain), Credentials, or AccessKeyID and AccessKeySecret", EnvAccessKeyID, EnvAccessKeySecret)
			case c.AccessKeySecret == "":
				return fail("AccessKeySecret", "%s is set but %s is not", EnvAccessKeyID, EnvAccessKeySecret)
			case c.AccessKeyID == "":
				return fail("AccessKeyID", "%s is set but %s is not", EnvAccessKeySecret, EnvAccessKeyID)
			}
		case c.AccessKeyID == "":
			return fail("AccessKeyID", "required with AccessKeySecret or SecurityToken")
		case c.AccessKeySecret == "":
			return fail("AccessKeySecret", "required with AccessKeyID")
		}
		c.Credentials = sls.NewStaticCredentialsProvider(c.AccessKeyID, c.AccessKeySecret, c.SecurityToken)
	}

	intDefault := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	durDefault := func(v *time.Duration, def time.Duration) {
		if *v == 0 {
			*v = def
		}
	}
	intDefault(&c.MaxBatchBytes, DefaultMaxBatchBytes)
	intDefault(&c.MaxBatchCount, DefaultMaxBatchCount)
	intDefault(&c.BufferBytes, max(DefaultBufferBytes, 2*c.MaxBatchBytes))
	intDefault(&c.MaxInflight, DefaultMaxInflight)
	intDefault(&c.SpoolMaxBytes, DefaultSpoolMaxBytes)
	intDefault(&c.ShardHashBuckets, DefaultShardHashBuckets)
	durDefault(&c.Linger, DefaultLinger)
	durDefault(&c.BlockTimeout, DefaultBlockTimeout)
	durDefault(&c.RequestTimeout, DefaultRequestTimeout)
	durDefault(&c.RetryTimeout, DefaultRetryTimeout)
	durDefault(&c.SyncTimeout, DefaultSyncTimeout)
	durDefault(&c.CloseTimeout, DefaultCloseTimeout)
	durDefault(&c.RetryBackoff, DefaultRetryBackoff)
	durDefault(&c.RetryBackoffMax, max(DefaultRetryBackoffMax, c.RetryBackoff))
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent()
	}
	switch {
	case c.MaxBatchBytes < 64<<10 || c.MaxBatchBytes > MaxBatchBytesLimit:
		return fail("MaxBatchBytes", "%d: want 64 KiB to 10 MiB", c.MaxBatchBytes)
	case c.MaxBatchCount < 1 || c.MaxBatchCount > MaxBatchCountLimit:
		return fail("MaxBatchCount", "%d: want 1 to %d", c.MaxBatchCount, MaxBatchCountLimit)
	case c.BufferBytes < 2*c.MaxBatchBytes:
		return fail("BufferBytes", "%d: want at least twice MaxBatchBytes (%d)", c.BufferBytes, 2*c.MaxBatchBytes)
	case c.MaxInflight < 1 || c.MaxInflight > 64:
		return fail("MaxInflight", "%d: want 1 to 64", c.MaxInflight)
	case c.ShardHashBuckets < 1 || c.ShardHashBuckets > 256 || c.ShardHashBuckets&(c.ShardHashBuckets-1) != 0:
		return fail("ShardHashBuckets", "%d: want a power of two from 1 to 256", c.ShardHashBuckets)
	case c.SpoolMaxBytes < 2*c.MaxBatchBytes:
		return fail("SpoolMaxBytes", "%d: want at least twice MaxBatchBytes (%d)", c.SpoolMaxBytes, 2*c.MaxBatchBytes)
	case c.RetryBackoffMax < c.RetryBackoff && c.RetryBackoffMax >= 0:
		return fail("RetryBackoffMax", "%v: want at least RetryBackoff (%v)", c.RetryBackoffMax, c.RetryBackoff)
	case strings.ContainsFunc(c.UserAgent, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }):
		return fail("UserAgent", "%q: control characters cannot go in an HTTP header", c.UserAgent)
	}
	for _, f := range configFields {
		if f.kind != kindDuration {
			continue
		}
		if d := f.ptr(&c).(*time.Duration); *d < 0 {
			return fail(f.field, "%v: want a positive duration", *d)
		}
	}
	switch strings.ToLower(c.OnFull) {
	case "", OnFullBlock:
		c.OnFull = OnFullBlock
	case OnFullDrop:
		c.OnFull = OnFullDrop
	default:
		return fail("OnFull", "%q: want block or drop", c.OnFull)
	}
	if err := c.Lines.check(); err != "" {
		return fail("Lines", "%s", err)
	}
	return c, ep, nil
}

// DefaultUserAgent is the User-Agent a Writer sends when Config.UserAgent is
// empty: "zapsls-go/VERSION", VERSION being the zapsls module's version as
// the running binary's build information records it, or "devel".
func DefaultUserAgent() string {
	version := "devel"
	if bi, ok := debug.ReadBuildInfo(); ok {
		mods := append([]*debug.Module{&bi.Main}, bi.Deps...)
		for _, m := range mods {
			if m.Path != modulePath {
				continue
			}
			if m.Replace != nil {
				m = m.Replace
			}
			if m.Version != "" && m.Version != "(devel)" {
				version = m.Version
			}
			break
		}
	}
	return "zapsls-go/" + version
}

// modulePath is the path of the zapsls module.
const modulePath = "github.com/zapsls/zapsls"

// hostSource is the default Source: the host name, cut to what SLS allows.
func hostSource() string {
	host, _ := os.Hostname()
	return string(truncateUTF8([]byte(host), MaxTopicBytes))
}

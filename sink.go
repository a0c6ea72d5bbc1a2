package zapsls

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/multierr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Scheme is the URL scheme of zapsls sinks, and EncodingName the name of the
// native encoding, both registered with zap when the package is imported.
const (
	Scheme       = "sls"
	EncodingName = "sls"
)

func init() {
	if err := zap.RegisterEncoder(EncodingName, func(cfg zapcore.EncoderConfig) (zapcore.Encoder, error) {
		return NewEncoder(cfg), nil
	}); err != nil {
		panic(fmt.Sprintf("zapsls: registering the %q encoding: %v", EncodingName, err))
	}
	if err := zap.RegisterSink(Scheme, openSink); err != nil {
		panic(fmt.Sprintf("zapsls: registering the %q sink scheme: %v", Scheme, err))
	}
}

// urlParams maps each URL query parameter to the Config field it sets. The
// names are the Config fields' JSON names, plus the short forms compress
// (Compression), protocol (the Endpoint's scheme) and spool (SpoolDir).
var urlParams = map[string]func(c *Config, v string) error{
	"topic":            func(c *Config, v string) error { c.Topic = v; return nil },
	"source":           func(c *Config, v string) error { c.Source = v; return nil },
	"compress":         func(c *Config, v string) error { c.Compression = v; return nil },
	"signatureVersion": func(c *Config, v string) error { c.SignatureVersion = v; return nil },
	"region":           func(c *Config, v string) error { c.Region = v; return nil },
	"onFull":           func(c *Config, v string) error { c.OnFull = v; return nil },
	"spool":            func(c *Config, v string) error { c.SpoolDir = v; return nil },
	"spoolMaxBytes":    sizeParam(func(c *Config) *int { return &c.SpoolMaxBytes }),
	"bufferBytes":      sizeParam(func(c *Config) *int { return &c.BufferBytes }),
	"maxBatchBytes":    sizeParam(func(c *Config) *int { return &c.MaxBatchBytes }),
	"maxBatchCount":    intParam(func(c *Config) *int { return &c.MaxBatchCount }),
	"maxInflight":      intParam(func(c *Config) *int { return &c.MaxInflight }),
	"blockTimeout":     durationParam(func(c *Config) *time.Duration { return &c.BlockTimeout }),
	"linger":           durationParam(func(c *Config) *time.Duration { return &c.Linger }),
	"requestTimeout":   durationParam(func(c *Config) *time.Duration { return &c.RequestTimeout }),
	"retryTimeout":     durationParam(func(c *Config) *time.Duration { return &c.RetryTimeout }),
	"syncTimeout":      durationParam(func(c *Config) *time.Duration { return &c.SyncTimeout }),
	"closeTimeout":     durationParam(func(c *Config) *time.Duration { return &c.CloseTimeout }),
}

func intParam(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("want an integer, got %q", v)
		}
		*field(c) = n
		return nil
	}
}

func sizeParam(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil {
			return err
		}
		*field(c) = n
		return nil
	}
}

func durationParam(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil {
			return fmt.Errorf("want a duration such as 200ms, got %q", v)
		}
		*field(c) = d
		return nil
	}
}

// parseSize reads a byte count: digits with an optional unit, B, KB, KiB,
// MB, MiB, GB or GiB (case does not matter; KB and KiB both mean 1024).
func parseSize(v string) (int, error) {
	s := strings.ToLower(strings.TrimSpace(v))
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	n, err := strconv.Atoi(s[:i])
	if err != nil {
		return 0, fmt.Errorf("want a size such as 4194304 or 4MiB, got %q", v)
	}
	unit := map[string]int{"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20, "gb": 1 << 30, "gib": 1 << 30}
	m, ok := unit[strings.TrimSpace(s[i:])]
	if !ok {
		return 0, fmt.Errorf("want a size such as 4194304 or 4MiB, got %q", v)
	}
	return n * m, nil
}

// ConfigFromURL parses a sink URL into a Config:
//
//	sls://ENDPOINT_HOST[:PORT]/PROJECT/LOGSTORE?topic=T&source=S&tag.K=V&compress=zstd
//
// Parameters: topic, source, tag.KEY (one per tag), compress (lz4, zstd,
// none), protocol (https, the default, or http), signatureVersion, region,
// onFull, spool (SpoolDir), spoolMaxBytes, bufferBytes, maxBatchBytes
// (sizes: 4194304, 4MiB), maxBatchCount,
// maxInflight, blockTimeout, linger, requestTimeout, retryTimeout,
// syncTimeout, closeTimeout (durations: 200ms, 5s). Each has the meaning of
// the Config field of that name. An unknown or malformed parameter is an
// error naming it; values are checked by NewWriter, whose errors the sink
// reports under the parameter's name. Credentials may be given as the URL's
// user info (sls://AK:SECRET@host/...), which no error or log of zapsls
// ever echoes; without them NewWriter reads the ALIBABA_CLOUD_*
// environment.
func ConfigFromURL(rawURL string) (Config, error) {
	var c Config
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error quotes the whole URL, user info included.
		return c, fmt.Errorf("zapsls: sink URL: cannot parse it as a URL")
	}
	shown := redactedURL(u)
	fail := func(format string, args ...interface{}) (Config, error) {
		return Config{}, fmt.Errorf("zapsls: sink URL %s: %s", shown, fmt.Sprintf(format, args...))
	}
	if u.Scheme != Scheme {
		return fail("scheme %q: want %s://", u.Scheme, Scheme)
	}
	if u.Host == "" {
		return fail("no endpoint host: want sls://ENDPOINT/PROJECT/LOGSTORE")
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fail("path %q: want /PROJECT/LOGSTORE", u.Path)
	}
	c.Project, c.Logstore = parts[0], parts[1]
	if u.User != nil {
		c.AccessKeyID = u.User.Username()
		c.AccessKeySecret, _ = u.User.Password()
	}
	protocol := "https"
	query := u.Query()
	names := make([]string, 0, len(query))
	for name := range query {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		values := query[name]
		if len(values) != 1 {
			return fail("parameter %q given %d times", name, len(values))
		}
		v := values[0]
		switch {
		case strings.HasPrefix(name, "tag."):
			key := strings.TrimPrefix(name, "tag.")
			if key == "" {
				return fail("parameter %q: empty tag key", name)
			}
			if c.Tags == nil {
				c.Tags = map[string]string{}
			}
			c.Tags[key] = v
		case name == "protocol":
			if v != "http" && v != "https" {
				return fail("parameter protocol: want http or https, got %q", v)
			}
			protocol = v
		default:
			set, ok := urlParams[name]
			if !ok {
				return fail("unknown parameter %q", name)
			}
			if err := set(&c, v); err != nil {
				return fail("parameter %s: %v", name, err)
			}
		}
	}
	c.Endpoint = protocol + "://" + u.Host
	return c, nil
}

// inURLTerms rewrites NewWriter's "Config.Field: problem" as the URL part
// that set the field, so that the message names what the user wrote.
func inURLTerms(err error) string {
	msg := strings.TrimPrefix(err.Error(), "zapsls: ")
	field, problem, ok := strings.Cut(strings.TrimPrefix(msg, "Config."), ": ")
	if !ok || !strings.HasPrefix(msg, "Config.") {
		return msg
	}
	switch field {
	case "Endpoint":
		return "endpoint host: " + problem
	case "Project", "Logstore":
		return "path /PROJECT/LOGSTORE: " + strings.ToLower(field) + " " + problem
	case "AccessKeyID", "AccessKeySecret":
		return problem + " (or put them in the URL's user info)"
	case "Tags":
		return "tag.KEY parameters: " + problem
	case "Compression":
		return "parameter compress: " + problem
	case "SpoolDir":
		return "parameter spool: " + problem
	}
	return "parameter " + strings.ToLower(field[:1]) + field[1:] + ": " + problem
}

// redactedURL prints u without user info.
func redactedURL(u *url.URL) string {
	cp := *u
	cp.User = nil
	return cp.String()
}

// The sink registry: zap opens sinks by URL and never closes them, so zapsls
// keeps the Writers it opened, one per distinct URL, until CloseSinks.
var sinks = struct {
	sync.Mutex
	byURL map[string]*sharedSink
}{byURL: map[string]*sharedSink{}}

type sharedSink struct {
	*Writer
	key  string
	refs int
}

// sinkHandle is what zap holds: Write and Sync go to the shared Writer;
// Close releases this handle, and closes the Writer with the last one.
type sinkHandle struct {
	*sharedSink
	once sync.Once
}

func (h *sinkHandle) Close() error {
	var err error
	h.once.Do(func() { err = releaseSink(h.sharedSink) })
	return err
}

func openSink(u *url.URL) (zap.Sink, error) {
	key := u.String()
	sinks.Lock()
	defer sinks.Unlock()
	if s, ok := sinks.byURL[key]; ok {
		s.refs++
		return &sinkHandle{sharedSink: s}, nil
	}
	cfg, err := ConfigFromURL(key)
	if err != nil {
		return nil, err
	}
	w, err := NewWriter(cfg)
	if err != nil {
		return nil, fmt.Errorf("zapsls: sink URL %s: %s", redactedURL(u), inURLTerms(err))
	}
	s := &sharedSink{Writer: w, key: key, refs: 1}
	sinks.byURL[key] = s
	return &sinkHandle{sharedSink: s}, nil
}

func releaseSink(s *sharedSink) error {
	sinks.Lock()
	s.refs--
	last := s.refs == 0 && sinks.byURL[s.key] == s
	if last {
		delete(sinks.byURL, s.key)
	}
	sinks.Unlock()
	if last {
		return s.Writer.Close()
	}
	return nil
}

// SinkWriter returns the Writer that zap's sink registry opened for rawURL
// (as given in OutputPaths), to read its Stats, for example.
func SinkWriter(rawURL string) (*Writer, bool) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, false
	}
	sinks.Lock()
	defer sinks.Unlock()
	s, ok := sinks.byURL[u.String()]
	if !ok {
		return nil, false
	}
	return s.Writer, true
}

// CloseSinks closes every Writer opened through an sls:// URL in a
// zap.Config (or zap.Open), delivering what they hold, and forgets them; a
// later Build opens new ones. zap never closes its sinks, so call it once,
// at the end of main, after the last log call (logger.Sync alone delivers,
// but leaves the sender goroutines running):
//
//	logger, _ := cfg.Build()
//	defer zapsls.CloseSinks()
func CloseSinks() error {
	sinks.Lock()
	all := make([]*sharedSink, 0, len(sinks.byURL))
	for _, s := range sinks.byURL {
		all = append(all, s)
	}
	sinks.byURL = map[string]*sharedSink{}
	sinks.Unlock()
	var err error
	for _, s := range all {
		err = multierr.Append(err, s.Writer.Close())
	}
	return err
}

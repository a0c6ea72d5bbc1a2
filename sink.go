package zapsls

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"

	"go.uber.org/multierr"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Scheme is the URL scheme of zapsls sinks, and EncodingName the name of the
// native encoding, both registered with zap when the package is imported.
// The encoding is NewEncoder with no options; the sink URL's lines.KEY
// parameters (Config.Lines) give its frames the message and built-in
// options, applied by the Writer.
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

// ConfigFromURL parses a sink URL into a Config:
//
//	sls://ENDPOINT_HOST[:PORT]/PROJECT/LOGSTORE?topic=T&source=S&tag.K=V&compress=zstd
//
// Parameters: topic, source, tag.KEY (one per tag), compress (lz4, zstd,
// none), protocol (https, the default, or http), spool (SpoolDir),
// lines.KEY (Config.Lines: lines.messageJSON=true,
// lines.messageKV.separator=:, lines.builtinPrefix=_; see LineOptions), and
// every other field that JSON and YAML decode, under its JSON key
// (signatureVersion, region, onFull, bufferBytes, linger, ...), with the
// same grammar: sizes 4194304, 512KiB, 16MiB; durations 500ms, 5s. Each
// has the meaning of the Config field it sets. An unknown or malformed
// parameter is a *ConfigError naming it; values are checked by NewWriter,
// whose *ConfigError the sink reports under the URL part that set the
// field. The URL never holds credentials: one with user info
// (sls://AK:SECRET@host/...) is refused, because zap's own error when a
// sink fails to open quotes the URL, secret included. Without the
// credentials parameter (credentials=default|env|oidc|profile|ecs-ram-role,
// with role=NAME for ecs-ram-role), NewWriter reads the ALIBABA_CLOUD_*
// environment.
func ConfigFromURL(rawURL string) (Config, error) {
	var c Config
	u, err := url.Parse(rawURL)
	if err != nil {
		// url's error quotes the whole URL, user info included.
		return c, &ConfigError{Problem: "sink URL: cannot parse it as a URL"}
	}
	shown := redactedURL(u)
	fail := func(e *ConfigError) (Config, error) {
		e.url = shown
		return Config{}, e
	}
	if u.Scheme != Scheme {
		return fail(&ConfigError{Problem: fmt.Sprintf("scheme %q: want %s://", u.Scheme, Scheme)})
	}
	if u.Host == "" {
		return fail(&ConfigError{Field: "Endpoint", Problem: "missing: want sls://ENDPOINT/PROJECT/LOGSTORE"})
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return fail(&ConfigError{Problem: fmt.Sprintf("path %q: want /PROJECT/LOGSTORE", u.Path)})
	}
	c.Project, c.Logstore = parts[0], parts[1]
	if u.User != nil {
		return fail(&ConfigError{Problem: "user info (credentials) in a sink URL is refused: zap's error when a sink fails to open quotes the URL, secret included; " +
			"put credentials in the environment (ALIBABA_CLOUD_ACCESS_KEY_ID, ALIBABA_CLOUD_ACCESS_KEY_SECRET) or use credentials=default"})
	}
	protocol := "https"
	query := u.Query()
	for _, name := range slices.Sorted(maps.Keys(query)) {
		values := query[name]
		if len(values) != 1 {
			return fail(&ConfigError{Key: name, Problem: fmt.Sprintf("parameter %q given %d times", name, len(values))})
		}
		v := values[0]
		switch {
		case strings.HasPrefix(name, "tag."):
			key := strings.TrimPrefix(name, "tag.")
			if key == "" {
				return fail(&ConfigError{Field: "Tags", Key: name, Problem: "empty tag key"})
			}
			if c.Tags == nil {
				c.Tags = map[string]string{}
			}
			c.Tags[key] = v
		case strings.HasPrefix(name, "lines."):
			if err := c.Lines.set(strings.TrimPrefix(name, "lines."), v); err != "" {
				return fail(&ConfigError{Field: "Lines", Key: name, Problem: err})
			}
		case name == "protocol":
			if v != "http" && v != "https" {
				return fail(&ConfigError{Field: "Endpoint", Key: name, Problem: fmt.Sprintf("want http or https, got %q", v)})
			}
			protocol = v
		default:
			f := fieldByParam(name)
			if f == nil {
				return fail(&ConfigError{Key: name, Problem: fmt.Sprintf("unknown parameter %q", name)})
			}
			if e := f.setText(&c, v); e != nil {
				e.Key = name
				return fail(e)
			}
		}
	}
	c.Endpoint = protocol + "://" + u.Host
	return c, nil
}

// redactedURL prints u without user info.
func redactedURL(u *url.URL) string {
	cp := *u
	cp.User = nil
	return cp.String()
}

// The sink registry: zap opens sinks by URL and never closes them, so zapsls
// keeps the Writers it opened until CloseSinks. URLs that differ only in
// their destination (the path's project and logstore, topic, source,
// hashKey, processor) share one Writer, its engine: one buffer, batcher,
// posters, spool and Stats serve them all, each URL's entries going to its
// own destination.
var sinks = struct {
	sync.Mutex
	byEngine map[string]*sharedSink
}{byEngine: map[string]*sharedSink{}}

type sharedSink struct {
	*Writer
	key  string
	refs int
}

// destinationParams are the sink URL parameters that choose a destination
// rather than configure the engine.
var destinationParams = []string{"topic", "source", "hashKey", "processor"}

// engineKey is what two sink URLs must share to share a Writer: the URL
// without its path and destination parameters, parameters sorted.
func engineKey(u *url.URL) string {
	cp := *u
	cp.Path, cp.RawPath = "", ""
	q := cp.Query()
	for _, p := range destinationParams {
		q.Del(p)
	}
	cp.RawQuery = q.Encode()
	return cp.String()
}

// sinkHandle is what zap holds: Write goes to the shared Writer, to the
// handle's destination; Sync delivers every destination of the Writer;
// Close releases this handle, and closes the Writer with the last one.
type sinkHandle struct {
	*sharedSink
	route *route
	once  sync.Once
}

func (h *sinkHandle) Write(p []byte) (int, error) { return h.Writer.write(p, h.route) }

func (h *sinkHandle) Close() error {
	var err error
	h.once.Do(func() { err = releaseSink(h.sharedSink) })
	return err
}

func openSink(u *url.URL) (zap.Sink, error) {
	cfg, err := ConfigFromURL(u.String())
	if err != nil {
		return nil, err
	}
	key := engineKey(u)
	sinks.Lock()
	defer sinks.Unlock()
	s, ok := sinks.byEngine[key]
	if !ok {
		w, err := NewWriter(cfg)
		if err != nil {
			return nil, sinkError(u, err)
		}
		s = &sharedSink{Writer: w, key: key}
		sinks.byEngine[key] = s
	}
	// The URL's own destination: what it leaves out it does not send,
	// whatever another URL on the same Writer says.
	d := Destination{Project: cfg.Project, Logstore: cfg.Logstore, Topic: cfg.Topic, Source: cfg.Source, ShardKey: cfg.ShardKey, Processor: cfg.Processor}
	if d.Source == "" {
		d.Source = hostSource() // as NewWriter's default
	}
	r, err := s.Writer.routes.resolveExact(d)
	if err != nil {
		if !ok {
			_ = s.Writer.Close()
			delete(sinks.byEngine, key)
		}
		return nil, sinkError(u, err)
	}
	s.refs++
	return &sinkHandle{sharedSink: s, route: r}, nil
}

// sinkError names the URL part that set the field a *ConfigError names.
func sinkError(u *url.URL, err error) error {
	var ce *ConfigError
	if errors.As(err, &ce) {
		ce.url = redactedURL(u)
		ce.Field = strings.TrimPrefix(ce.Field, "Destination.")
		return ce
	}
	return fmt.Errorf("zapsls: sink URL %s: %w", redactedURL(u), err)
}

func releaseSink(s *sharedSink) error {
	sinks.Lock()
	s.refs--
	last := s.refs == 0 && sinks.byEngine[s.key] == s
	if last {
		delete(sinks.byEngine, s.key)
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
	s, ok := sinks.byEngine[engineKey(u)]
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
	all := make([]*sharedSink, 0, len(sinks.byEngine))
	for _, s := range sinks.byEngine {
		all = append(all, s)
	}
	sinks.byEngine = map[string]*sharedSink{}
	sinks.Unlock()
	var err error
	for _, s := range all {
		err = multierr.Append(err, s.Writer.Close())
	}
	return err
}

// Command zapsls helps run zapsls against Alibaba Cloud Log Service (SLS).
//
// Its subcommand index makes the logs zapsls writes searchable: it derives
// the logstore index for the keys the encoder writes (zapsls.NewIndex), and
// prints it or applies it.
//
//	zapsls index                                   # print the index, as JSON
//	zapsls index --key user.id:long --key error:text
//	zapsls index --url 'sls://cn-hangzhou.log.aliyuncs.com/proj/store' --apply
//
// The printed JSON is the body of SLS's CreateIndex call, ready for the
// console's "modify index" JSON view, aliyunlog or Terraform. Printing
// needs no URL and no credentials.
//
// With --apply it connects to the logstore of the sink URL (--url, or
// ZAPSLS_URL), with credentials as a Writer finds them: the source of the
// URL's credentials parameter (credentials=default, the Alibaba Cloud
// chain), else the ALIBABA_CLOUD_ACCESS_KEY_ID,
// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN
// environment variables, and creates the index, or, when
// the logstore has one, adds the missing keys to it: keys the logstore
// indexes already, its full-text settings and every other setting are kept.
// A key it already indexes with another type than zapsls derives is an
// error naming both types, unless --force, which replaces that key's
// configuration (SLS applies an index change to logs written after it).
// The access key needs log:GetIndex, log:CreateIndex and log:UpdateIndex
// on the logstore.
//
// The flags describe the encoder, as the zap.Config or NewEncoder call of
// the application does: --encoder picks zap's production or development
// EncoderConfig, --message-key, --level-key, --time-key, --name-key,
// --caller-key, --function-key, --stacktrace-key and --time-encoder
// override its parts (an empty key leaves the part out), --file-key,
// --line-key, --pid-key, --program-key, --hostname-key, --level-number-key,
// --file-name-key, --module-key and --uptime-key are the FieldSet
// (zapsls.DefaultFieldSet by default), --builtin-prefix, --builtin-suffix
// and --builtin-root the encoder's WithBuiltinAffixes and WithBuiltinRoot,
// and --key NAME:TYPE (text, long, double, json; repeatable) adds keys the
// application logs. --json-key and --kv-key NAME:TYPE add keys that
// WithMessageJSON and WithMessageKV extract from messages, named as the
// message has them; --message-json-prefix, --message-json-suffix,
// --message-kv-prefix and --message-kv-suffix are their Extract's affixes.
// The URL's lines.KEY parameters (Config.Lines: affixes, root, derived
// fields, extraction affixes) count where no flag is given. With --url,
// the URL's topic and tags are indexed too, as __topic__ and __tag__:KEY.
//
// Its subcommand doctor checks that a sink URL can deliver, before an
// application trusts it, one line per check with ok, FAIL (and the fix) or
// skip: credentials found as a Writer finds them, the endpoint resolves,
// accepts connections and TLS, its clock is within SLS's 15 minutes of
// this machine's (from an answer's Date), SLS accepts the credentials, the
// project and the logstore exist, the index covers the keys zapsls writes
// (for the encoder the index flags describe, zap's production one by
// default), and the key may write: one probe entry, tagged
// zapsls_doctor=write-probe (--no-write skips it).
//
//	zapsls doctor --url 'sls://cn-hangzhou.log.aliyuncs.com/proj/store'
//
// Exit status: 0 done (doctor: every check passed), 1 SLS refused, the
// index conflicts or a check failed, 2 bad usage.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

// run is the whole command; env reads the environment (os.Getenv in main).
func run(args []string, stdout, stderr io.Writer, env func(string) string) int {
	return runWith(args, stdout, stderr, env, nil)
}

// runWith is run with the HTTP client that --apply sends requests with;
// nil means one of its own (see newHTTPClient).
func runWith(args []string, stdout, stderr io.Writer, env func(string) string, hc *http.Client) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "index":
		return runIndex(args[1:], stdout, stderr, env, hc)
	case "doctor":
		return runDoctor(args[1:], stdout, stderr, env, hc)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "zapsls: unknown command %q\n%s", args[0], usage)
		return 2
	}
}

const usage = `usage: zapsls index [flags]     print or apply the SLS index for the logs zapsls writes
       zapsls doctor [flags]    check that a sink URL can deliver, one line per check

Run "zapsls index -h" or "zapsls doctor -h" for the flags.
`

const envURL = "ZAPSLS_URL"

// errReported is a usage error the flag package has printed already.
var errReported = errors.New("reported")

// optString is a string flag that remembers whether it was given, so that
// an empty value can mean "leave this part out".
type optString struct {
	value string
	set   bool
}

func (o *optString) String() string { return o.value }
func (o *optString) Set(v string) error {
	o.value, o.set = v, true
	return nil
}

// keyList is the repeatable --key flag.
type keyList []zapsls.IndexKey

func (k *keyList) String() string {
	parts := make([]string, len(*k))
	for i, key := range *k {
		parts[i] = key.Name + ":" + key.Type
	}
	return strings.Join(parts, ",")
}

// Set reads NAME:TYPE, split at the last colon, so that names such as
// __tag__:env work.
func (k *keyList) Set(v string) error {
	i := strings.LastIndex(v, ":")
	if i <= 0 || i == len(v)-1 {
		return fmt.Errorf("want NAME:TYPE (TYPE text, long, double or json), got %q", v)
	}
	*k = append(*k, zapsls.IndexKey{Name: v[:i], Type: v[i+1:]})
	return nil
}

// indexFlags are the flags of the index subcommand.
type indexFlags struct {
	url                  string
	apply, dryRun, force bool
	timeout              time.Duration
	encoder              string
	timeEncoder          optString
	encKeys              map[string]*optString // EncoderConfig keys by flag name
	fields               zapsls.FieldSet
	extra                keyList
	// The encoder options: built-in affixes and root, and the message
	// extractions whose keys --json-key and --kv-key name.
	builtinPrefix, builtinSuffix, builtinRoot string
	messageJSON, messageKV                    zapsls.Extract
	jsonKeys, kvKeys                          keyList
}

// addLineOptions takes from the sink URL's lines.KEY parameters what the
// Writer does to the entries' keys (affixes, root, derived FieldSet keys,
// the extractions' affixes) where no flag says otherwise: the logstore
// then holds the keys as the Writer rewrote them.
func (f *indexFlags) addLineOptions(o zapsls.LineOptions) {
	or := func(flag *string, url string) {
		if *flag == "" || *flag == zapsls.FieldOff {
			if url != "" && url != zapsls.FieldOff {
				*flag = url
			}
		}
	}
	or(&f.builtinPrefix, o.BuiltinPrefix)
	or(&f.builtinSuffix, o.BuiltinSuffix)
	or(&f.builtinRoot, o.BuiltinRoot)
	or(&f.fields.LevelNumberKey, o.LevelNumberKey)
	or(&f.fields.FileNameKey, o.FileNameKey)
	or(&f.fields.ModuleKey, o.ModuleKey)
	or(&f.fields.UptimeKey, o.UptimeKey)
	for _, x := range []struct {
		flag *zapsls.Extract
		url  *zapsls.Extract
	}{{&f.messageJSON, o.MessageJSON}, {&f.messageKV, o.MessageKV}} {
		if x.url != nil {
			or(&x.flag.Prefix, x.url.Prefix)
			or(&x.flag.Suffix, x.url.Suffix)
		}
	}
}

// encoderOptions are the NewEncoder options the flags describe.
func (f *indexFlags) encoderOptions() []zapsls.EncoderOption {
	opts := []zapsls.EncoderOption{zapsls.WithFieldSet(f.fields), zapsls.WithBuiltinAffixes(f.builtinPrefix, f.builtinSuffix), zapsls.WithBuiltinRoot(f.builtinRoot)}
	if len(f.jsonKeys) > 0 {
		opts = append(opts, zapsls.WithMessageJSON(f.messageJSON))
	}
	if len(f.kvKeys) > 0 {
		opts = append(opts, zapsls.WithMessageKV(f.messageKV))
	}
	return opts
}

var encoderKeyFlags = []struct {
	name, field string
	ptr         func(*zapcore.EncoderConfig) *string
}{
	{"message-key", "MessageKey", func(c *zapcore.EncoderConfig) *string { return &c.MessageKey }},
	{"level-key", "LevelKey", func(c *zapcore.EncoderConfig) *string { return &c.LevelKey }},
	{"time-key", "TimeKey", func(c *zapcore.EncoderConfig) *string { return &c.TimeKey }},
	{"name-key", "NameKey", func(c *zapcore.EncoderConfig) *string { return &c.NameKey }},
	{"caller-key", "CallerKey", func(c *zapcore.EncoderConfig) *string { return &c.CallerKey }},
	{"function-key", "FunctionKey", func(c *zapcore.EncoderConfig) *string { return &c.FunctionKey }},
	{"stacktrace-key", "StacktraceKey", func(c *zapcore.EncoderConfig) *string { return &c.StacktraceKey }},
}

func parseIndexFlags(args []string, stderr io.Writer, env func(string) string) (*indexFlags, error) {
	f := &indexFlags{encKeys: map[string]*optString{}}
	fs := flag.NewFlagSet("zapsls index", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: zapsls index [flags]

Prints the SLS index (CreateIndex JSON) under which the logs zapsls writes
are searchable, or applies it to the logstore of the sink URL with --apply.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&f.url, "url", "", "sink URL `sls://ENDPOINT/PROJECT/LOGSTORE?...`, as in zap's OutputPaths (default $"+envURL+")")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the index as JSON and touch nothing (the default)")
	fs.BoolVar(&f.apply, "apply", false, "create the logstore's index, or add the missing keys to it")
	fs.BoolVar(&f.force, "force", false, "with --apply: replace keys the logstore indexes with another type")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "with --apply: how long each SLS call may take, retries included")
	f.registerEncoderFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errReported // fs printed it, with the usage
	}
	f.finishEncoderFlags()
	if f.url == "" {
		// Not the flag's default, which -h would print, user info included.
		f.url = env(envURL)
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if f.apply && f.dryRun {
		return nil, errors.New("--apply and --dry-run exclude each other")
	}
	if f.force && !f.apply {
		return nil, errors.New("--force goes with --apply")
	}
	if f.timeout <= 0 {
		return nil, errors.New("--timeout must be positive")
	}
	return f, nil
}

// registerEncoderFlags adds to fs the flags that describe the
// application's encoder (zapsls index and zapsls doctor share them).
func (f *indexFlags) registerEncoderFlags(fs *flag.FlagSet) {
	if f.encKeys == nil {
		f.encKeys = map[string]*optString{}
	}
	fs.StringVar(&f.encoder, "encoder", "production", "zap EncoderConfig preset: `production` or development")
	fs.Var(&f.timeEncoder, "time-encoder", "EncoderConfig.EncodeTime by its zap.Config `NAME`: epoch, millis, nanos, iso8601, rfc3339 or rfc3339nano (default: the preset's)")
	for _, k := range encoderKeyFlags {
		o := &optString{}
		f.encKeys[k.name] = o
		fs.Var(o, k.name, "EncoderConfig."+k.field+" `KEY` (default: the preset's; empty: left out)")
	}
	def := zapsls.DefaultFieldSet()
	fs.StringVar(&f.fields.FileKey, "file-key", def.FileKey, "FieldSet.FileKey (empty: off)")
	fs.StringVar(&f.fields.LineKey, "line-key", def.LineKey, "FieldSet.LineKey (empty: off)")
	fs.StringVar(&f.fields.PIDKey, "pid-key", def.PIDKey, "FieldSet.PIDKey (empty: off)")
	fs.StringVar(&f.fields.ProgramKey, "program-key", def.ProgramKey, "FieldSet.ProgramKey (empty: off)")
	fs.StringVar(&f.fields.HostnameKey, "hostname-key", def.HostnameKey, "FieldSet.HostnameKey (empty: off)")
	fs.StringVar(&f.fields.LevelNumberKey, "level-number-key", "", "FieldSet.LevelNumberKey, indexed long (empty: off)")
	fs.StringVar(&f.fields.FileNameKey, "file-name-key", "", "FieldSet.FileNameKey (empty: off)")
	fs.StringVar(&f.fields.ModuleKey, "module-key", "", "FieldSet.ModuleKey (empty: off)")
	fs.StringVar(&f.fields.UptimeKey, "uptime-key", "", "FieldSet.UptimeKey, indexed long (empty: off)")
	fs.StringVar(&f.builtinPrefix, "builtin-prefix", "", "WithBuiltinAffixes prefix of every built-in key")
	fs.StringVar(&f.builtinSuffix, "builtin-suffix", "", "WithBuiltinAffixes suffix of every built-in key")
	fs.StringVar(&f.builtinRoot, "builtin-root", "", "WithBuiltinRoot `KEY`: the built-in fields in one json key")
	fs.StringVar(&f.messageJSON.Prefix, "message-json-prefix", "", "WithMessageJSON's Extract.Prefix, for --json-key")
	fs.StringVar(&f.messageJSON.Suffix, "message-json-suffix", "", "WithMessageJSON's Extract.Suffix, for --json-key")
	fs.StringVar(&f.messageKV.Prefix, "message-kv-prefix", "", "WithMessageKV's Extract.Prefix, for --kv-key")
	fs.StringVar(&f.messageKV.Suffix, "message-kv-suffix", "", "WithMessageKV's Extract.Suffix, for --kv-key")
	fs.Var(&f.jsonKeys, "json-key", "a key WithMessageJSON extracts from messages, `NAME:TYPE` as the message has it (repeatable)")
	fs.Var(&f.kvKeys, "kv-key", "a key WithMessageKV extracts from messages, `NAME:TYPE` as the message has it (repeatable)")
	fs.Var(&f.extra, "key", "another key to index, `NAME:TYPE` with TYPE text, long, double or json (repeatable)")
}

// finishEncoderFlags applies what the encoder flags mean once parsed: an
// empty FieldSet flag leaves the field out.
func (f *indexFlags) finishEncoderFlags() {
	for _, k := range []*string{&f.fields.FileKey, &f.fields.LineKey, &f.fields.PIDKey, &f.fields.ProgramKey, &f.fields.HostnameKey,
		&f.fields.LevelNumberKey, &f.fields.FileNameKey, &f.fields.ModuleKey, &f.fields.UptimeKey} {
		if *k == "" {
			*k = zapsls.FieldOff // an empty flag leaves the field out
		}
	}
}

// wantIndex is the index for the encoder the flags describe, with the
// keys the sink URL's Config adds (topic, tags, lines options) when cfg is
// not nil. It returns the EncoderConfig too.
func (f *indexFlags) wantIndex(cfg *zapsls.Config) (sls.Index, zapcore.EncoderConfig, error) {
	encCfg, err := f.encoderConfig()
	if err != nil {
		return sls.Index{}, encCfg, err
	}
	extra := append(keyList(nil), f.extra...)
	if cfg != nil {
		extra = append(extra, urlKeys(*cfg)...)
		f.addLineOptions(cfg.Lines)
	}
	for _, k := range f.jsonKeys {
		extra = append(extra, zapsls.IndexKey{Name: k.Name, Type: k.Type, From: zapsls.IndexFromMessageJSON})
	}
	for _, k := range f.kvKeys {
		extra = append(extra, zapsls.IndexKey{Name: k.Name, Type: k.Type, From: zapsls.IndexFromMessageKV})
	}
	want, err := zapsls.NewIndexFor(encCfg, f.encoderOptions(), extra...)
	return want, encCfg, err
}

// encoderConfig builds the EncoderConfig the flags describe.
func (f *indexFlags) encoderConfig() (zapcore.EncoderConfig, error) {
	var cfg zapcore.EncoderConfig
	switch f.encoder {
	case "production":
		cfg = zap.NewProductionEncoderConfig()
	case "development":
		cfg = zap.NewDevelopmentEncoderConfig()
	default:
		return cfg, fmt.Errorf("--encoder %q: want production or development", f.encoder)
	}
	for _, k := range encoderKeyFlags {
		if o := f.encKeys[k.name]; o.set {
			*k.ptr(&cfg) = o.value
		}
	}
	if f.timeEncoder.set {
		switch f.timeEncoder.value {
		case "epoch", "millis", "nanos", "iso8601", "ISO8601", "rfc3339", "RFC3339", "rfc3339nano", "RFC3339Nano":
			_ = cfg.EncodeTime.UnmarshalText([]byte(f.timeEncoder.value))
		default:
			return cfg, fmt.Errorf("--time-encoder %q: want epoch, millis, nanos, iso8601, rfc3339 or rfc3339nano", f.timeEncoder.value)
		}
	}
	return cfg, nil
}

func runIndex(args []string, stdout, stderr io.Writer, env func(string) string, hc *http.Client) int {
	f, err := parseIndexFlags(args, stderr, env)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errReported):
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "zapsls index: %v\n", err)
		return 2
	}
	usageErr := func(err error) int {
		fmt.Fprintf(stderr, "zapsls index: %s\n", withoutPrefix(err))
		return 2
	}
	var cfg zapsls.Config
	var urlCfg *zapsls.Config
	if f.url != "" {
		if cfg, err = zapsls.ConfigFromURL(f.url); err != nil {
			return usageErr(err)
		}
		urlCfg = &cfg
	} else if f.apply {
		return usageErr(fmt.Errorf("--apply needs the logstore: give --url or set %s", envURL))
	}
	want, encCfg, err := f.wantIndex(urlCfg)
	if err != nil {
		return usageErr(err)
	}
	if !f.apply {
		if err := printIndex(stdout, want); err != nil {
			fmt.Fprintf(stderr, "zapsls index: %v\n", err)
			return 1
		}
		return 0
	}

	injected := hc != nil
	client, creds, cleanup, err := newClient(cfg, env, hc, f.timeout)
	if err != nil {
		return usageErr(err)
	}
	if !injected {
		// The SDK client retries an endpoint it cannot reach for the
		// whole --timeout; find out in a round trip instead.
		if err := reach(cfg, f.timeout); err != nil {
			cleanup()
			fmt.Fprintf(stderr, "zapsls index: %v\n", err)
			return 1
		}
	}
	defer cleanup()
	if err := applyIndex(client, cfg.Project, cfg.Logstore, want, f.force, stdout); err != nil {
		msg := withoutPrefix(err)
		var ce *conflictError
		if errors.As(err, &ce) {
			ce.flags = f.keyFlags(encCfg) // with the flags to give
			msg = cfg.Project + "/" + cfg.Logstore + ": " + ce.Error()
		}
		// SLS's messages may quote the access key id (SignatureNotMatch
		// quotes the Authorization header): scrubbed, as the library does.
		fmt.Fprintf(stderr, "zapsls index: %s\n", scrubCredentials(msg, creds))
		return 1
	}
	return 0
}

// keyFlags maps each key the flags name (EncoderConfig and FieldSet keys)
// to its flag, for conflictError's advice.
func (f *indexFlags) keyFlags(enc zapcore.EncoderConfig) map[string]string {
	m := map[string]string{}
	for _, k := range encoderKeyFlags {
		if key := *k.ptr(&enc); key != "" {
			m[key] = "--" + k.name
		}
	}
	for flagName, key := range map[string]string{
		"--file-key": f.fields.FileKey, "--line-key": f.fields.LineKey, "--pid-key": f.fields.PIDKey,
		"--program-key": f.fields.ProgramKey, "--hostname-key": f.fields.HostnameKey,
		"--level-number-key": f.fields.LevelNumberKey, "--file-name-key": f.fields.FileNameKey,
		"--module-key": f.fields.ModuleKey, "--uptime-key": f.fields.UptimeKey,
	} {
		if key != "" && key != zapsls.FieldOff {
			m[key] = flagName
		}
	}
	return m
}

// scrubCredentials replaces the access key id, secret and token creds
// hands out with "***" in text.
func scrubCredentials(text string, creds sls.CredentialsProvider) string {
	c, err := creds.GetCredentials()
	if err != nil {
		return text
	}
	for _, secret := range []string{c.AccessKeySecret, c.SecurityToken, c.AccessKeyID} {
		if secret != "" {
			text = strings.ReplaceAll(text, secret, "***")
		}
	}
	return text
}

// urlKeys are the LogGroup fields the sink URL sets, which SLS stores as
// __topic__ and __tag__:KEY: text keys to index. __source__ is left out:
// it defaults to the host name, which the FieldSet's HostnameKey carries.
func urlKeys(cfg zapsls.Config) []zapsls.IndexKey {
	var keys []zapsls.IndexKey
	if cfg.Topic != "" {
		keys = append(keys, zapsls.IndexKey{Name: "__topic__", Type: zapsls.IndexText})
	}
	tags := make([]string, 0, len(cfg.Tags))
	for k := range cfg.Tags {
		tags = append(tags, k)
	}
	sort.Strings(tags)
	for _, k := range tags {
		keys = append(keys, zapsls.IndexKey{Name: "__tag__:" + k, Type: zapsls.IndexText})
	}
	return keys
}

// printIndex writes idx as indented JSON, without HTML escaping, so that
// the tokens read as they are ("<", not "\u003c"), and with each list of
// strings on one line.
func printIndex(w io.Writer, idx sls.Index) error {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(idx); err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return err
	}
	flat := stringList.ReplaceAllFunc(out.Bytes(), func(list []byte) []byte {
		return listBreak.ReplaceAll(list, []byte(" "))
	})
	_, err := w.Write(flat)
	return err
}

// stringList matches an indented JSON array of strings; listBreak, the
// line breaks and indentation inside it.
var (
	stringList = regexp.MustCompile(`\[\n\s*"(?:[^"\\]|\\.)*"(?:,\n\s*"(?:[^"\\]|\\.)*")*\n\s*\]`)
	listBreak  = regexp.MustCompile(`\n\s*`)
)

// newClient builds the SDK client for cfg's endpoint. Credentials come as
// a Writer finds them: from the source of the URL's credentials parameter,
// else from the environment.
func newClient(cfg zapsls.Config, env func(string) string, hc *http.Client, timeout time.Duration) (sls.ClientInterface, sls.CredentialsProvider, func(), error) {
	var creds sls.CredentialsProvider
	if cfg.CredentialsFrom != "" {
		var err error
		if creds, err = zapsls.NewCredentialsProvider(cfg.CredentialsFrom, cfg.RAMRole); err != nil {
			return nil, nil, nil, fmt.Errorf("the URL's credentials parameter: %s", withoutPrefix(err))
		}
	} else {
		ak, secret, token := env(zapsls.EnvAccessKeyID), env(zapsls.EnvAccessKeySecret), env(zapsls.EnvSecurityToken)
		if ak == "" || secret == "" {
			return nil, nil, nil, fmt.Errorf("no credentials: set %s and %s, or add credentials=default (the Alibaba Cloud chain) to the URL", zapsls.EnvAccessKeyID, zapsls.EnvAccessKeySecret)
		}
		creds = sls.NewStaticCredentialsProvider(ak, secret, token)
	}
	cleanup := func() {}
	if hc == nil {
		var err error
		if hc, err = newHTTPClient(cfg.Endpoint, timeout); err != nil {
			return nil, nil, nil, err
		}
		cleanup = hc.CloseIdleConnections
	}
	c := &sls.Client{
		Endpoint:       cfg.Endpoint,
		HTTPClient:     hc,
		RequestTimeOut: timeout,
		RetryTimeOut:   timeout,
	}
	switch strings.ToLower(cfg.SignatureVersion) {
	case "", "v1", "1":
	case "v4", "4":
		if cfg.Region == "" {
			return nil, nil, nil, errors.New("the URL asks for signatureVersion v4, which needs region=REGION")
		}
		c.AuthVersion, c.Region = sls.AuthV4, cfg.Region
	default:
		return nil, nil, nil, fmt.Errorf("the URL's signatureVersion %q: want v1 or v4", cfg.SignatureVersion)
	}
	return c.WithCredentialsProvider(creds), creds, cleanup, nil
}

// newHTTPClient returns a client for endpoint. The SDK addresses
// PROJECT.HOST; when HOST is an IP address or localhost, as for a local
// endpoint, that name does not resolve, so the client connects to HOST
// itself, as zapsls.Writer does.
func newHTTPClient(endpoint string, timeout time.Duration) (*http.Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("endpoint %q: not a URL", endpoint)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if h := u.Hostname(); h == "localhost" || net.ParseIP(h) != nil {
		addr := u.Host
		if u.Port() == "" {
			port := "443"
			if u.Scheme == "http" {
				port = "80"
			}
			addr = net.JoinHostPort(h, port)
		}
		dialer := &net.Dialer{Timeout: 10 * time.Second}
		tr.Proxy = nil
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		}
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// reach checks, in a round trip, that cfg's endpoint can be reached as the
// SDK client will reach it (PROJECT.HOST, or HOST itself for an IP address
// or localhost): that the name resolves, the port accepts, and that the
// endpoint speaks the scheme the URL asks for. Its errors say what to fix.
func reach(cfg zapsls.Config, timeout time.Duration) error {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("endpoint %q: not a URL", cfg.Endpoint)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if host != "localhost" && net.ParseIP(host) == nil {
		host = cfg.Project + "." + host
	}
	addr := net.JoinHostPort(host, port)
	dialer := &net.Dialer{Timeout: min(timeout, 10*time.Second)}
	conn, err := dialer.Dial("tcp", addr)
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Errorf("%s does not resolve: check the endpoint (REGION.log.aliyuncs.com, its -intranet form only inside Alibaba Cloud)", host)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s refuses connections: nothing listens there; check the endpoint's host and port", addr)
	case err != nil:
		return fmt.Errorf("%s: %v", addr, err)
	}
	defer conn.Close()
	if u.Scheme != "https" {
		return nil
	}
	_ = conn.SetDeadline(time.Now().Add(dialer.Timeout))
	// Only the scheme is checked here: any other handshake failure is left
	// to the SDK's request, which reports it.
	err = tls.Client(conn, &tls.Config{ServerName: u.Hostname()}).Handshake()
	var rec tls.RecordHeaderError
	if errors.As(err, &rec) {
		return fmt.Errorf("%s does not speak TLS: for an HTTP endpoint add protocol=http to the URL", addr)
	}
	return nil
}

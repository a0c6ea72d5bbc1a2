package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
)

// The doctor's verdicts, the first word of each line.
const (
	verdictOK   = "ok"
	verdictFail = "FAIL"
	verdictSkip = "skip"
)

// maxClockSkew is how far a request's Date may be from SLS's clock before
// SLS refuses it (RequestTimeTooSkewed; README.md's SLS protocol facts).
const maxClockSkew = 15 * time.Minute

// doctor runs the checks of "zapsls doctor" and prints one line each.
type doctor struct {
	out      io.Writer
	cfg      zapsls.Config
	rawURL   string       // quoted in fixes: ConfigFromURL refused any user info
	hc       *http.Client // the injected client (tests), or nil
	timeout  time.Duration
	env      func(string) string
	creds    sls.CredentialsProvider // once found: scrubbed from every line
	want     sls.Index               // what the logstore's index must cover
	failures int
}

// report prints one check's line: the verdict, the check's name, what was
// found, and for a failure what to do.
func (d *doctor) report(verdict, check, found, fix string) {
	line := fmt.Sprintf("%-4s %-11s %s", verdict, check, found)
	if fix != "" {
		line += " -- fix: " + fix
	}
	if d.creds != nil {
		// SLS's messages may quote the access key id.
		line = scrubCredentials(line, d.creds)
	}
	fmt.Fprintln(d.out, line)
	if verdict == verdictFail {
		d.failures++
	}
}

func runDoctor(args []string, stdout, stderr io.Writer, env func(string) string, hc *http.Client) int {
	fs := flag.NewFlagSet("zapsls doctor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rawURL string
	var noWrite bool
	var timeout time.Duration
	fs.StringVar(&rawURL, "url", "", "sink URL `sls://ENDPOINT/PROJECT/LOGSTORE?...`, as in zap's OutputPaths (default $"+envURL+")")
	fs.BoolVar(&noWrite, "no-write", false, "skip the write check (one PutLogs of a probe entry, tagged zapsls_doctor=write-probe)")
	fs.DurationVar(&timeout, "timeout", 10*time.Second, "how long each check may take")
	enc := &indexFlags{}
	enc.registerEncoderFlags(fs) // as zapsls index: the keys the index must cover
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: zapsls doctor [flags]

Checks, one line each, that a sink URL can deliver: the endpoint resolves,
accepts connections and TLS, its clock agrees with this machine's, the
credentials (found as a Writer finds them) are valid, the project and the
logstore exist, the key may write (one probe entry, skipped by --no-write),
and the logstore's index covers the keys zapsls writes with the encoder the
flags describe (those of zapsls index; zap's production EncoderConfig and
DefaultFieldSet by default). Exits 1 if any check fails.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	enc.finishEncoderFlags()
	if rawURL == "" {
		rawURL = env(envURL)
	}
	usageErr := func(format string, args ...interface{}) int {
		fmt.Fprintf(stderr, "zapsls doctor: "+format+"\n", args...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case rawURL == "":
		return usageErr("give --url sls://ENDPOINT/PROJECT/LOGSTORE or set %s", envURL)
	case timeout <= 0:
		return usageErr("--timeout must be positive")
	}
	cfg, err := zapsls.ConfigFromURL(rawURL)
	if err != nil {
		return usageErr("%s", withoutPrefix(err))
	}
	want, _, err := enc.wantIndex(&cfg)
	if err != nil {
		return usageErr("%s", withoutPrefix(err))
	}
	d := &doctor{out: stdout, cfg: cfg, rawURL: rawURL, hc: hc, timeout: timeout, env: env, want: want}
	d.run(noWrite)
	if d.failures > 0 {
		fmt.Fprintf(stdout, "%s failed\n", plural(d.failures, "checks", "check"))
		return 1
	}
	return 0
}

// run runs every check in order; a check whose prerequisite failed is
// skipped.
func (d *doctor) run(noWrite bool) {
	u, err := url.Parse(d.cfg.Endpoint)
	if err != nil || u.Host == "" {
		d.report(verdictFail, "endpoint", fmt.Sprintf("%q is not an endpoint", d.cfg.Endpoint), "write sls://REGION.log.aliyuncs.com/PROJECT/LOGSTORE")
		return
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "443"
		if u.Scheme == "http" {
			port = "80"
		}
	}
	// Requests go to PROJECT.HOST, except for an IP address or localhost,
	// which the Writer connects to directly.
	direct := host == "localhost" || net.ParseIP(host) != nil
	dialHost := host
	if !direct && !strings.HasPrefix(host, d.cfg.Project+".") {
		dialHost = d.cfg.Project + "." + host
	}

	creds, source, credErr := d.credentials()
	d.creds = creds
	if credErr != nil {
		d.report(verdictFail, "credentials", credErr.Error(), "set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET, or add credentials=default (the Alibaba Cloud chain) to the URL")
	} else {
		d.report(verdictOK, "credentials", "found: "+source, "")
	}

	addrs, ok := d.resolve(dialHost, direct)
	if !ok {
		d.skipRest("resolve")
		return
	}
	if !d.connect(addrs, port) {
		d.skipRest("connect")
		return
	}
	if !d.tls(u.Scheme, dialHost, net.JoinHostPort(addrs[0], port)) {
		d.skipRest("tls")
		return
	}
	client := d.httpClient()
	d.clock(client, u, dialHost)
	if credErr != nil {
		d.report(verdictSkip, "auth", "needs credentials", "")
		d.report(verdictSkip, "project", "needs credentials", "")
		d.report(verdictSkip, "logstore", "needs credentials", "")
		d.report(verdictSkip, "index", "needs credentials", "")
		d.report(verdictSkip, "write", "needs credentials", "")
		return
	}
	if !d.index(client, creds) {
		d.report(verdictSkip, "write", "needs the logstore", "")
		return
	}
	if noWrite {
		d.report(verdictSkip, "write", "--no-write", "")
		return
	}
	d.write(creds)
}

func (d *doctor) skipRest(failed string) {
	for _, c := range []string{"resolve", "connect", "tls", "clock", "auth", "project", "logstore", "index", "write"} {
		if c == failed {
			failed = "" // skip the checks after it
			continue
		}
		if failed == "" {
			d.report(verdictSkip, c, "needs a connection", "")
		}
	}
}

// credentials finds credentials as a Writer does: the source of the URL's
// credentials parameter, else the environment.
func (d *doctor) credentials() (sls.CredentialsProvider, string, error) {
	if d.cfg.CredentialsFrom != "" {
		p, err := zapsls.NewCredentialsProvider(d.cfg.CredentialsFrom, d.cfg.RAMRole)
		if err != nil {
			return nil, "", fmt.Errorf("credentials=%s: %s", d.cfg.CredentialsFrom, withoutPrefix(err))
		}
		if _, err := p.GetCredentials(); err != nil {
			return nil, "", errors.New(withoutPrefix(err))
		}
		return p, "credentials=" + d.cfg.CredentialsFrom, nil
	}
	ak, secret, token := d.env(zapsls.EnvAccessKeyID), d.env(zapsls.EnvAccessKeySecret), d.env(zapsls.EnvSecurityToken)
	if ak == "" || secret == "" {
		return nil, "", fmt.Errorf("no credentials: %s and %s are not both set, and the URL has no credentials parameter", zapsls.EnvAccessKeyID, zapsls.EnvAccessKeySecret)
	}
	source := "the ALIBABA_CLOUD_ACCESS_KEY_* environment"
	if token != "" {
		source += ", with an STS token"
	}
	return sls.NewStaticCredentialsProvider(ak, secret, token), source, nil
}

func (d *doctor) resolve(host string, direct bool) ([]string, bool) {
	if ip := net.ParseIP(host); ip != nil {
		d.report(verdictOK, "resolve", host+" is an IP address", "")
		return []string{host}, true
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil || len(addrs) == 0 {
		fix := "check the endpoint: REGION.log.aliyuncs.com from anywhere, REGION-intranet.log.aliyuncs.com only from Alibaba Cloud in that region, with REGION the project's (cn-hangzhou, ap-southeast-1, ...)"
		if direct {
			fix = "check the host name"
		}
		d.report(verdictFail, "resolve", fmt.Sprintf("%s does not resolve: %v", host, err), fix)
		return nil, false
	}
	d.report(verdictOK, "resolve", host+" -> "+strings.Join(addrs, ", "), "")
	return addrs, true
}

func (d *doctor) connect(addrs []string, port string) bool {
	addr := net.JoinHostPort(addrs[0], port)
	start := time.Now()
	conn, err := net.DialTimeout("tcp", addr, d.timeout)
	if err != nil {
		d.report(verdictFail, "connect", fmt.Sprintf("%s: %v", addr, unwrapOp(err)),
			"a firewall, proxy or security group may block it; an -intranet endpoint answers only inside Alibaba Cloud's network of its region")
		return false
	}
	conn.Close()
	d.report(verdictOK, "connect", fmt.Sprintf("%s in %v", addr, time.Since(start).Round(100*time.Microsecond)), "")
	return true
}

func (d *doctor) tls(scheme, serverName, addr string) bool {
	if scheme != "https" {
		d.report(verdictOK, "tls", "not used: protocol=http sends logs and signatures unencrypted; use it only for local endpoints", "")
		return true
	}
	conf := &tls.Config{ServerName: serverName, RootCAs: d.rootCAs()}
	dialer := &net.Dialer{Timeout: d.timeout}
	conn, err := tls.DialWithDialer(dialer, "tcp", addr, conf)
	if err != nil {
		fix := "the endpoint's certificate must be valid for " + serverName + " and trusted by this machine (a TLS-intercepting proxy needs its CA installed)"
		var rec tls.RecordHeaderError
		if errors.As(err, &rec) {
			fix = "the endpoint does not speak TLS: for a local test endpoint add protocol=http to the URL"
		}
		d.report(verdictFail, "tls", fmt.Sprintf("%s: %v", serverName, unwrapOp(err)), fix)
		return false
	}
	state := conn.ConnectionState()
	conn.Close()
	d.report(verdictOK, "tls", fmt.Sprintf("%s, certificate for %s valid until %s", tls.VersionName(state.Version),
		serverName, state.PeerCertificates[0].NotAfter.Format("2006-01-02")), "")
	return true
}

// rootCAs are the roots of the injected client (tests' slstest with TLS),
// else nil: the system's.
func (d *doctor) rootCAs() *x509.CertPool {
	if d.hc != nil {
		if tr, ok := d.hc.Transport.(*http.Transport); ok && tr.TLSClientConfig != nil {
			return tr.TLSClientConfig.RootCAs
		}
	}
	return nil
}

func (d *doctor) httpClient() *http.Client {
	if d.hc != nil {
		return d.hc
	}
	hc, err := newHTTPClient(d.cfg.Endpoint, d.timeout)
	if err != nil {
		return &http.Client{Timeout: d.timeout}
	}
	return hc
}

// clock compares this machine's clock with the Date of an answer.
func (d *doctor) clock(client *http.Client, u *url.URL, host string) {
	req, err := http.NewRequest(http.MethodGet, u.Scheme+"://"+u.Host+"/", nil)
	if err != nil {
		d.report(verdictFail, "clock", err.Error(), "")
		return
	}
	req.Host = host
	sent := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		d.report(verdictFail, "clock", "no answer to read the time from: "+unwrapOp(err).Error(), "")
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	received := time.Now()
	date, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		d.report(verdictFail, "clock", "the answer has no Date header", "")
		return
	}
	local := sent.Add(received.Sub(sent) / 2)
	skew := date.Sub(local).Round(time.Second)
	switch {
	case skew > maxClockSkew || -skew > maxClockSkew:
		way := "behind"
		if skew < 0 {
			way = "ahead of"
		}
		d.report(verdictFail, "clock", fmt.Sprintf("this machine's clock is %v %s SLS's (SLS refuses requests more than %v off)", absDuration(skew), way, maxClockSkew),
			"synchronise the clock (NTP, chrony, timedatectl set-ntp true)")
	default:
		d.report(verdictOK, "clock", fmt.Sprintf("within %v of SLS's (Date resolution 1s; SLS refuses more than %v)", absDuration(skew)+time.Second, maxClockSkew), "")
	}
}

// index asks for the logstore's index: the answer tells whether the
// credentials are valid and the project and the logstore exist, and the
// index whether it covers the keys zapsls writes. It reports false when
// the logstore is not known to exist.
func (d *doctor) index(client *http.Client, creds sls.CredentialsProvider) bool {
	c := &sls.Client{Endpoint: d.cfg.Endpoint, HTTPClient: client, RequestTimeOut: d.timeout, RetryTimeOut: d.timeout}
	if v := strings.ToLower(d.cfg.SignatureVersion); v == "v4" || v == "4" {
		c.AuthVersion, c.Region = sls.AuthV4, d.cfg.Region
	}
	sc := c.WithCredentialsProvider(creds)
	project, logstore := d.cfg.Project, d.cfg.Logstore
	existing, err := sc.GetIndexString(project, logstore)
	var se *sls.Error
	if err != nil && !errors.As(err, &se) {
		d.report(verdictFail, "auth", "GetIndex: "+unwrapOp(err).Error(), "")
		d.report(verdictSkip, "project", "no answer", "")
		d.report(verdictSkip, "logstore", "no answer", "")
		d.report(verdictSkip, "index", "no answer", "")
		return false
	}
	answered := ""
	if se != nil {
		answered = fmt.Sprintf("SLS answered %d %s (request %s)", se.HTTPCode, se.Code, se.RequestID)
	}
	switch {
	case se != nil && se.Code == codeProjectNotExist:
		d.report(verdictSkip, "auth", "SLS checks the project first", "")
		d.report(verdictFail, "project", fmt.Sprintf("%q does not exist at this endpoint: %s", project, answered),
			"check the project name and that the endpoint is in the project's region")
		d.report(verdictSkip, "logstore", "needs the project", "")
		d.report(verdictSkip, "index", "needs the project", "")
		return false
	case se != nil && se.Code == codeLogStoreNotExist:
		d.report(verdictSkip, "auth", "SLS checks the logstore first", "")
		d.report(verdictOK, "project", fmt.Sprintf("%q exists", project), "")
		d.report(verdictFail, "logstore", fmt.Sprintf("%q does not exist in %q: %s", logstore, project, answered),
			"create it (console, aliyun log create_logstore, Terraform) or fix the URL's path")
		d.report(verdictSkip, "index", "needs the logstore", "")
		return false
	case se != nil && (se.HTTPCode == http.StatusUnauthorized || se.Code == "SignatureNotMatch" || se.Code == "InvalidAccessKeyId"):
		d.report(verdictFail, "auth", "SLS refused the credentials: "+answered,
			"check the key id, the secret and, for STS credentials, the token and its expiry")
		d.report(verdictSkip, "project", "needs valid credentials", "")
		d.report(verdictSkip, "logstore", "needs valid credentials", "")
		d.report(verdictSkip, "index", "needs valid credentials", "")
		return false
	case se != nil && se.Code == codeIndexNotExist:
		d.report(verdictOK, "auth", "SLS accepts the credentials", "")
		d.report(verdictOK, "project", fmt.Sprintf("%q exists", project), "")
		d.report(verdictOK, "logstore", fmt.Sprintf("%q exists", logstore), "")
		d.report(verdictFail, "index", "the logstore has no index: its logs cannot be searched by key",
			"zapsls index --apply --url '"+d.rawURL+"' (with the flags that describe your encoder)")
		return true
	case se != nil && permissionError(se):
		d.report(verdictOK, "auth", "SLS accepts the credentials (it answered with a permission error, not an authentication one)", "")
		d.report(verdictSkip, "project", "the key may not read the index", "")
		d.report(verdictSkip, "logstore", "the key may not read the index", "")
		d.report(verdictFail, "index", "cannot read it: "+answered,
			fmt.Sprintf("grant log:GetIndex on acs:log:*:*:project/%s/logstore/%s, or check the index in the console", project, logstore))
		return true
	case se != nil:
		fix := ""
		if se.Code == "RequestTimeTooSkewed" {
			fix = "synchronise the clock (see the clock check)"
		}
		d.report(verdictFail, "auth", "GetIndex: "+answered+": "+se.Message, fix)
		d.report(verdictSkip, "project", "no answer about it", "")
		d.report(verdictSkip, "logstore", "no answer about it", "")
		d.report(verdictSkip, "index", "no answer about it", "")
		return false
	}
	d.report(verdictOK, "auth", "SLS accepts the credentials", "")
	d.report(verdictOK, "project", fmt.Sprintf("%q exists", project), "")
	d.report(verdictOK, "logstore", fmt.Sprintf("%q exists", logstore), "")

	_, res, err := mergeIndex([]byte(existing), d.want, false)
	var ce *conflictError
	switch {
	case errors.As(err, &ce):
		var keys []string
		for _, c := range ce.conflicts {
			keys = append(keys, fmt.Sprintf("%s (%s, zapsls writes %s)", c.key, c.existing, c.derived))
		}
		d.report(verdictFail, "index", "keys indexed with another type: "+strings.Join(keys, ", "),
			"zapsls index --apply --force --url '"+d.rawURL+"', or write other key names")
	case err != nil:
		d.report(verdictFail, "index", err.Error(), "")
	case len(res.added) > 0:
		d.report(verdictFail, "index", fmt.Sprintf("lacks %s zapsls writes: %s", plural(len(res.added), "keys", "key"), strings.Join(res.added, ", ")),
			"zapsls index --apply --url '"+d.rawURL+"' adds them (with the flags that describe your encoder)")
	default:
		d.report(verdictOK, "index", fmt.Sprintf("covers the %s zapsls writes (with the encoder the flags describe)", plural(len(d.want.Keys), "keys", "key")), "")
	}
	return true
}

// write ships one probe entry with a Writer, as the sink would.
func (d *doctor) write(creds sls.CredentialsProvider) {
	cfg := d.cfg
	cfg.Credentials = creds
	cfg.CredentialsFrom, cfg.RAMRole = "", ""
	cfg.HTTPClient = d.hc
	cfg.Tags = map[string]string{"zapsls_doctor": "write-probe"}
	for k, v := range d.cfg.Tags {
		cfg.Tags[k] = v
	}
	cfg.SyncTimeout, cfg.RetryTimeout, cfg.CloseTimeout, cfg.RequestTimeout = d.timeout, d.timeout, d.timeout, d.timeout
	cfg.OnError = func(error) {} // the Sync error says it
	w, err := zapsls.NewWriter(cfg)
	if err != nil {
		d.report(verdictFail, "write", withoutPrefix(err), "")
		return
	}
	logger := zap.New(zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zapcore.InfoLevel))
	logger.Info("zapsls doctor write probe: safe to ignore or delete")
	err = logger.Sync()
	_ = w.Close()
	if err == nil {
		d.report(verdictOK, "write", "one probe entry delivered (tag zapsls_doctor=write-probe, message \"zapsls doctor write probe\")", "")
		return
	}
	fix := ""
	var pe *zapsls.PutLogsError
	if errors.As(err, &pe) && (pe.Status == http.StatusForbidden || pe.Status == http.StatusUnauthorized) {
		fix = fmt.Sprintf("grant log:PostLogStoreLogs on acs:log:*:*:project/%s/logstore/%s to the key's RAM user or role", d.cfg.Project, d.cfg.Logstore)
	}
	d.report(verdictFail, "write", withoutPrefix(err), fix)
}

// withoutPrefix drops the "zapsls: " of the library's errors: the command
// names itself once.
func withoutPrefix(err error) string { return strings.TrimPrefix(err.Error(), "zapsls: ") }

// unwrapOp returns the innermost cause of a *net.OpError chain, without
// the operation and addresses the line already names.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

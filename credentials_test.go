package zapsls

// Credentials from the Alibaba Cloud chain (Config.CredentialsFrom): each
// source that can run on a developer's machine, against slstest. OIDC
// (RRSA) and the ECS RAM role run in a child process whose HTTPS_PROXY and
// HTTP_PROXY lead to stand-ins of STS and of the metadata service on
// loopback, and whose SSL_CERT_FILE trusts the stand-in's certificate:
// credentials-go dials sts.aliyuncs.com and 100.100.100.200 itself.

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

// credentialsConfig is a Config for srv with credentials from source.
func credentialsConfig(srv *slstest.Server, source string) Config {
	return Config{
		Endpoint: srv.Endpoint(), Project: "proj", Logstore: "store",
		CredentialsFrom: source, HTTPClient: srv.Client(), Linger: 10 * time.Millisecond,
	}
}

// logAndSync writes one entry through w and syncs.
func logAndSync(w *Writer, msg string) error {
	logger := zap.New(NewCore(NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	logger.Info(msg)
	return logger.Sync()
}

// clearCredentialEnv leaves none of the chain's variables set, so that a
// test sees only what it sets.
func clearCredentialEnv(t *testing.T) {
	for _, k := range []string{EnvAccessKeyID, EnvAccessKeySecret, EnvSecurityToken,
		"ALIBABA_CLOUD_CONFIG_FILE", "ALIBABA_CLOUD_PROFILE", "ALIBABA_CLOUD_CREDENTIALS_FILE",
		"ALIBABA_CLOUD_OIDC_TOKEN_FILE", "ALIBABA_CLOUD_OIDC_TOKEN", "ALIBABA_CLOUD_ROLE_ARN",
		"ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_ECS_METADATA", "ALIBABA_CLOUD_CREDENTIALS_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("HOME", t.TempDir()) // no ~/.aliyun/config.json
	t.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	t.Setenv("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "")
}

func TestCredentialsFromEnv(t *testing.T) {
	clearCredentialEnv(t)
	srv := slstest.NewServer(slstest.Options{AccessKeyID: "env-ak", AccessKeySecret: "env-secret", SecurityToken: "token-1"})
	defer srv.Close()
	t.Setenv(EnvAccessKeyID, "env-ak")
	t.Setenv(EnvAccessKeySecret, "env-secret")
	t.Setenv(EnvSecurityToken, "token-1")

	w, err := NewWriter(credentialsConfig(srv, "env"))
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, logAndSync(w, "first"))
	require.Equal(t, "token-1", srv.Requests()[0].SecurityToken)

	// The environment is read on every request: a rotated token is used.
	srv.SetCredentials("", "", "token-2")
	t.Setenv(EnvSecurityToken, "token-2")
	require.NoError(t, logAndSync(w, "second"))
	require.Equal(t, 2, srv.LogCount())
	require.Equal(t, "token-2", srv.Requests()[1].SecurityToken)
}

func TestCredentialsFromEnvMissingFailsAtNewWriter(t *testing.T) {
	clearCredentialEnv(t)
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	_, err := NewWriter(credentialsConfig(srv, "env"))
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Equal(t, "CredentialsFrom", ce.Field)
	require.Contains(t, err.Error(), "ALIBABA_CLOUD_ACCESS_KEY_ID")
}

func TestCredentialsFromProfileFile(t *testing.T) {
	clearCredentialEnv(t)
	srv := slstest.NewServer(slstest.Options{AccessKeyID: "prod-ak", AccessKeySecret: "prod-secret"})
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(file, []byte(`{
		"current": "dev",
		"profiles": [
			{"name": "dev", "mode": "AK", "access_key_id": "dev-ak", "access_key_secret": "dev-secret"},
			{"name": "prod", "mode": "AK", "access_key_id": "prod-ak", "access_key_secret": "prod-secret"}
		]}`), 0o600))
	t.Setenv("ALIBABA_CLOUD_CONFIG_FILE", file)

	// The file's current profile, dev, is not what the server accepts.
	w, err := NewWriter(credentialsConfig(srv, "profile"))
	require.NoError(t, err)
	err = logAndSync(w, "as dev")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "dev-secret")
	_ = w.Close()
	require.Equal(t, "InvalidAccessKeyId", srv.Rejections()[0].Code)

	// ALIBABA_CLOUD_PROFILE picks another.
	t.Setenv("ALIBABA_CLOUD_PROFILE", "prod")
	w, err = NewWriter(credentialsConfig(srv, "profile"))
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, logAndSync(w, "as prod"))
	require.Equal(t, "prod-ak", srv.Requests()[0].AccessKeyID)
}

// TestCredentialsProfileErrorHidesTheFile: credentials-go quotes a profile
// file that does not parse, secrets included; zapsls's error does not.
func TestCredentialsProfileErrorHidesTheFile(t *testing.T) {
	clearCredentialEnv(t)
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(file, []byte(`{"profiles": [{"name": "x", "access_key_secret": "file-secret"}`), 0o600))
	t.Setenv("ALIBABA_CLOUD_CONFIG_FILE", file)
	_, err := NewWriter(credentialsConfig(srv, "profile"))
	require.Error(t, err)
	require.Contains(t, err.Error(), "unmarshal aliyun cli config")
	require.NotContains(t, err.Error(), "file-secret")
}

func TestCredentialsFromBadSourceOrCombination(t *testing.T) {
	clearCredentialEnv(t)
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	for _, tc := range []struct {
		mutate func(*Config)
		field  string
		want   string
	}{
		{func(c *Config) { c.CredentialsFrom = "vault" }, "CredentialsFrom", `"vault": want default, env, oidc, profile or ecs-ram-role`},
		{func(c *Config) { c.AccessKeyID, c.AccessKeySecret = "ak", "secret" }, "CredentialsFrom", "cannot be combined with static credentials"},
		{func(c *Config) { c.CredentialsFrom = "oidc" }, "CredentialsFrom", "oidc: "},
		{func(c *Config) { c.CredentialsFrom, c.RAMRole = "env", "role" }, "RAMRole", `only with CredentialsFrom "ecs-ram-role"`},
	} {
		c := credentialsConfig(srv, "default")
		tc.mutate(&c)
		_, err := NewWriter(c)
		var ce *ConfigError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, tc.field, ce.Field)
		assert.Contains(t, err.Error(), tc.want)
		assert.NotContains(t, err.Error(), "secret\"")
	}
}

func TestSinkURLWithUserInfoIsRefused(t *testing.T) {
	const secret = "url-secret-5"
	_, err := ConfigFromURL("sls://ak:" + secret + "@cn-hangzhou.log.aliyuncs.com/proj/store")
	var ce *ConfigError
	require.ErrorAs(t, err, &ce)
	require.Contains(t, err.Error(), "user info (credentials) in a sink URL is refused")
	require.NotContains(t, err.Error(), secret)

	c, err := ConfigFromURL("sls://cn-hangzhou.log.aliyuncs.com/proj/store?credentials=default")
	require.NoError(t, err)
	require.Equal(t, "default", c.CredentialsFrom)
}

// --- OIDC (RRSA) and the ECS RAM role, in a child process ---

// credentialsChildEnv makes TestCredentialsChild run instead of skipping.
const credentialsChildEnv = "ZAPSLS_CREDENTIALS_CHILD"

// cloudStandIn is STS and the ECS metadata service on loopback, reached
// as a proxy: it answers CONNECT to *.aliyuncs.com with TLS of its own
// certificate, and plain requests for 100.100.100.200.
type cloudStandIn struct {
	ln      net.Listener
	tlsConf *tls.Config
	certPEM []byte
	// expiresIn is the lifetime of the credentials it hands out.
	expiresIn time.Duration

	mu    sync.Mutex
	calls []string // "AssumeRoleWithOIDC role=... provider=... token=...", "ecs ROLE"
}

func newCloudStandIn(t *testing.T, expiresIn time.Duration) *cloudStandIn {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "sts stand-in"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"sts.aliyuncs.com", "*.aliyuncs.com"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := &cloudStandIn{
		ln:        ln,
		tlsConf:   &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		certPEM:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		expiresIn: expiresIn,
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

func (s *cloudStandIn) record(call string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, call)
	return len(s.calls)
}

func (s *cloudStandIn) recorded() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// ServeHTTP is the proxy: CONNECT tunnels to STS, absolute URLs to the
// metadata service.
func (s *cloudStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodConnect {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		// One request per tunnel, answered with Connection: close, so
		// that the child leaves no idle connection behind (goleak).
		tconn := tls.Server(conn, s.tlsConf)
		req, err := http.ReadRequest(bufio.NewReader(tconn))
		if err != nil {
			return
		}
		rec := &responseRecorder{header: http.Header{}}
		s.sts(rec, req)
		resp := &http.Response{StatusCode: rec.status, ProtoMajor: 1, ProtoMinor: 1, Header: rec.header, Close: true,
			Body: readCloser{strings.NewReader(rec.body.String())}, ContentLength: int64(rec.body.Len())}
		_ = resp.Write(tconn)
		return
	}
	w.Header().Set("Connection", "close")
	if r.URL.Host == "100.100.100.200" {
		s.metadata(w, r)
		return
	}
	http.Error(w, "not a stand-in host: "+r.URL.Host, http.StatusBadGateway)
}

// sts answers AssumeRoleWithOIDC with credentials numbered by call:
// sts-ak-N, sts-secret-N, sts-token-N.
func (s *cloudStandIn) sts(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "AssumeRoleWithOIDC" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"Code":"InvalidAction"}`)
		return
	}
	n := s.record(fmt.Sprintf("AssumeRoleWithOIDC role=%s provider=%s token=%s",
		r.PostForm.Get("RoleArn"), r.PostForm.Get("OIDCProviderArn"), r.PostForm.Get("OIDCToken")))
	_ = json.NewEncoder(w).Encode(map[string]any{"RequestId": "r", "Credentials": map[string]string{
		"AccessKeyId": fmt.Sprintf("sts-ak-%d", n), "AccessKeySecret": fmt.Sprintf("sts-secret-%d", n),
		"SecurityToken": fmt.Sprintf("sts-token-%d", n),
		"Expiration":    time.Now().Add(s.expiresIn).UTC().Format("2006-01-02T15:04:05Z"),
	}})
}

// metadata answers the ECS metadata service's token and RAM role paths.
func (s *cloudStandIn) metadata(w http.ResponseWriter, r *http.Request) {
	const prefix = "/latest/meta-data/ram/security-credentials/"
	switch {
	case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token":
		fmt.Fprint(w, "imds-token")
	case r.URL.Path == prefix:
		fmt.Fprint(w, "instance-role")
	case strings.HasPrefix(r.URL.Path, prefix):
		n := s.record("ecs " + strings.TrimPrefix(r.URL.Path, prefix) + " imds=" + r.Header.Get("x-aliyun-ecs-metadata-token"))
		_ = json.NewEncoder(w).Encode(map[string]string{"Code": "Success",
			"AccessKeyId": fmt.Sprintf("sts-ak-%d", n), "AccessKeySecret": fmt.Sprintf("sts-secret-%d", n),
			"SecurityToken": fmt.Sprintf("sts-token-%d", n),
			"Expiration":    time.Now().Add(s.expiresIn).UTC().Format("2006-01-02T15:04:05Z")})
	default:
		http.NotFound(w, r)
	}
}

type responseRecorder struct {
	header http.Header
	status int
	body   strings.Builder
}

func (r *responseRecorder) Header() http.Header { return r.header }
func (r *responseRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}
func (r *responseRecorder) WriteHeader(status int) { r.status = status }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }

// runCredentialsChild runs TestCredentialsChild with source and env, the
// stand-in as its proxy and trusted certificate.
func runCredentialsChild(t *testing.T, s *cloudStandIn, source string, env ...string) string {
	t.Helper()
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	require.NoError(t, os.WriteFile(caFile, s.certPEM, 0o600))
	proxy := "http://" + s.ln.Addr().String()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCredentialsChild$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), credentialsChildEnv+"="+source,
		"HTTPS_PROXY="+proxy, "HTTP_PROXY="+proxy, "NO_PROXY=", "SSL_CERT_FILE="+caFile,
		"HOME="+t.TempDir(), EnvAccessKeyID+"=", EnvAccessKeySecret+"=", EnvSecurityToken+"=")
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "child:\n%s", out)
	return string(out)
}

// TestCredentialsChild is not a test on its own: runCredentialsChild runs
// it in a child process. It ships an entry with the credentials of the
// source in credentialsChildEnv, the stand-in's sts-*-1, then another,
// with ZAPSLS_TEST_EXPECT_RENEWAL=1 once the server accepts only sts-*-2:
// delivered only if the provider fetched new credentials before the first
// expired.
func TestCredentialsChild(t *testing.T) {
	source := os.Getenv(credentialsChildEnv)
	if source == "" {
		t.Skip("run by TestCredentialsOIDC and TestCredentialsECSRAMRole")
	}
	srv := slstest.NewServer(slstest.Options{AccessKeyID: "sts-ak-1", AccessKeySecret: "sts-secret-1", SecurityToken: "sts-token-1"})
	defer srv.Close()
	c := credentialsConfig(srv, source)
	if source == CredentialsECSRAMRole {
		c.RAMRole = os.Getenv("ZAPSLS_TEST_RAM_ROLE")
	}
	w, err := NewWriter(c)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, logAndSync(w, "one"))
	if os.Getenv("ZAPSLS_TEST_EXPECT_RENEWAL") == "1" {
		srv.SetCredentials("sts-ak-2", "sts-secret-2", "sts-token-2")
	}
	require.NoError(t, logAndSync(w, "two"))
	for _, r := range srv.Requests() {
		fmt.Printf("request key=%s token=%s\n", r.AccessKeyID, r.SecurityToken)
	}
}

func TestCredentialsOIDC(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	require.NoError(t, os.WriteFile(tokenFile, []byte("oidc-jwt"), 0o600))
	oidcEnv := []string{"ALIBABA_CLOUD_OIDC_TOKEN_FILE=" + tokenFile,
		"ALIBABA_CLOUD_ROLE_ARN=acs:ram::1:role/logger", "ALIBABA_CLOUD_OIDC_PROVIDER_ARN=acs:ram::1:oidc-provider/ack"}

	t.Run("cached while valid", func(t *testing.T) {
		s := newCloudStandIn(t, time.Hour)
		out := runCredentialsChild(t, s, CredentialsOIDC, oidcEnv...)
		require.Equal(t, []string{"AssumeRoleWithOIDC role=acs:ram::1:role/logger provider=acs:ram::1:oidc-provider/ack token=oidc-jwt"}, s.recorded())
		require.Equal(t, 2, strings.Count(out, "request key=sts-ak-1 token=sts-token-1"), out)
	})
	t.Run("renewed before expiry", func(t *testing.T) {
		// Credentials that expire within three minutes are renewed at the
		// next request: every request here fetches new ones.
		s := newCloudStandIn(t, 150*time.Second)
		out := runCredentialsChild(t, s, CredentialsOIDC, append(oidcEnv, "ZAPSLS_TEST_EXPECT_RENEWAL=1")...)
		require.Len(t, s.recorded(), 2)
		require.Contains(t, out, "request key=sts-ak-2 token=sts-token-2", out)
	})
}

func TestCredentialsECSRAMRole(t *testing.T) {
	t.Run("named role", func(t *testing.T) {
		s := newCloudStandIn(t, time.Hour)
		out := runCredentialsChild(t, s, CredentialsECSRAMRole, "ZAPSLS_TEST_RAM_ROLE=logger-role")
		require.Equal(t, []string{"ecs logger-role imds=imds-token"}, s.recorded())
		require.Equal(t, 2, strings.Count(out, "request key=sts-ak-1 token=sts-token-1"), out)
	})
	t.Run("the instance's role, renewed", func(t *testing.T) {
		s := newCloudStandIn(t, 150*time.Second)
		out := runCredentialsChild(t, s, CredentialsECSRAMRole, "ZAPSLS_TEST_EXPECT_RENEWAL=1")
		require.Len(t, s.recorded(), 2)
		require.Equal(t, "ecs instance-role imds=imds-token", s.recorded()[0])
		require.Contains(t, out, "request key=sts-ak-2 token=sts-token-2", out)
	})
}

// TestCredentialsDefaultChainFromJSON: "credentials" in a JSON Config
// selects the default chain, whose first link is the environment.
func TestCredentialsDefaultChainFromJSON(t *testing.T) {
	clearCredentialEnv(t)
	srv := slstest.NewServer(slstest.Options{AccessKeyID: "chain-ak", AccessKeySecret: "chain-secret"})
	defer srv.Close()
	t.Setenv(EnvAccessKeyID, "chain-ak")
	t.Setenv(EnvAccessKeySecret, "chain-secret")
	var c Config
	require.NoError(t, json.Unmarshal([]byte(`{"endpoint": "`+srv.Endpoint()+`", "project": "proj", "logstore": "store", "credentials": "default", "linger": "10ms"}`), &c))
	require.Equal(t, CredentialsDefault, c.CredentialsFrom)
	c.HTTPClient = srv.Client()
	w, err := NewWriter(c)
	require.NoError(t, err)
	defer w.Close()
	require.NoError(t, logAndSync(w, "via the chain"))
	require.Equal(t, "chain-ak", srv.Requests()[0].AccessKeyID)
}

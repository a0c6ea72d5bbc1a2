package zapsls

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

// Every string the service would refuse in every request is refused by
// NewWriter, naming the field and never the secret (issue: a GBK topic
// passed NewWriter, then every batch got 400 InvalidEncoding).
func TestNewWriterRefusesStringsSLSRefuses(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		field  string
		text   string
	}{
		{"GBK topic", func(c *Config) { c.Topic = "t-\xd6\xd0\xce\xc4" }, "Topic", "not valid UTF-8"},
		{"GBK source", func(c *Config) { c.Source = "\xd6\xd0\xce\xc4" }, "Source", "not valid UTF-8"},
		{"topic of 129 bytes", func(c *Config) { c.Topic = strings.Repeat("t", 129) }, "Topic", "129 bytes: SLS allows at most 128"},
		{"source of 130 bytes in runes", func(c *Config) { c.Source = strings.Repeat("中", 43) + "x" }, "Source", "130 bytes"},
		{"bad UTF-8 tag key", func(c *Config) { c.Tags = map[string]string{"k\xff": "v"} }, "Tags", "not valid UTF-8"},
		{"bad UTF-8 tag value", func(c *Config) { c.Tags = map[string]string{"env": "\xc3\x28"} }, "Tags", `value of key "env": not valid UTF-8`},
		{"empty tag key", func(c *Config) { c.Tags = map[string]string{"": "v"} }, "Tags", "empty key"},
		{"tag key of 129 bytes", func(c *Config) { c.Tags = map[string]string{strings.Repeat("k", 129): "v"} }, "Tags", "129 bytes"},
		{"tag value over the value limit", func(c *Config) { c.Tags = map[string]string{"big": strings.Repeat("v", MaxTagValueBytes+1)} }, "Tags", `value of key "big": 1000001 bytes`},
		{"project with capitals", func(c *Config) { c.Project = "Test-Project" }, "Project", "want lower-case letters, digits and hyphens"},
		{"project with underscore", func(c *Config) { c.Project = "test_project" }, "Project", "want lower-case letters, digits and hyphens"},
		{"project of 2", func(c *Config) { c.Project = "ab" }, "Project", "2 characters: SLS names have 3 to 63"},
		{"project of 64", func(c *Config) { c.Project = strings.Repeat("p", 64) }, "Project", "64 characters"},
		{"project starting with a hyphen", func(c *Config) { c.Project = "-proj" }, "Project", "first and last"},
		{"project ending with a hyphen", func(c *Config) { c.Project = "proj-" }, "Project", "first and last"},
		{"project with a dot", func(c *Config) { c.Project = "my.proj" }, "Project", "want lower-case"},
		{"project in GBK", func(c *Config) { c.Project = "p\xd6\xd0p" }, "Project", "want lower-case"},
		{"logstore with capitals", func(c *Config) { c.Logstore = "Store" }, "Logstore", "want lower-case letters, digits, hyphens and underscores"},
		{"logstore of 2", func(c *Config) { c.Logstore = "st" }, "Logstore", "2 characters"},
		{"logstore starting with underscore", func(c *Config) { c.Logstore = "_store" }, "Logstore", "first and last"},
		{"logstore ending with hyphen", func(c *Config) { c.Logstore = "store-" }, "Logstore", "first and last"},
		{"logstore with a slash", func(c *Config) { c.Logstore = "a/b" }, "Logstore", "want lower-case"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(srv)
			tc.mutate(&cfg)
			_, err := NewWriter(cfg)
			requireConfigError(t, err, tc.field, tc.text)
			assert.NotContains(t, err.Error(), slstest.DefaultAccessKeySecret)
		})
	}
	assert.Empty(t, srv.Requests(), "nothing was sent")
}

// A tag key zapsls or SLS reserves is refused: __pack_id__ would be sent
// twice (issue: context browsing then depends on which one SLS keeps), and
// SLS names its own tags __NAME__.
func TestNewWriterRefusesReservedTagKeys(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	for key, text := range map[string]string{
		"__pack_id__":         "zapsls sends it with every batch",
		"__client_ip__":       "SLS reserves it",
		"__receive_time__":    "SLS reserves it",
		"__hostname__":        "SLS reserves it",
		"__path__":            "SLS reserves it",
		"__user_defined_id__": "SLS reserves it",
		"__topic__":           `starting with "__" are reserved`,
		"__source__":          `starting with "__" are reserved`,
		"__time__":            `starting with "__" are reserved`,
		"__tag__:x":           `starting with "__" are reserved`,
		"__pack_meta__":       `starting with "__" are reserved`,
		"__":                  `starting with "__" are reserved`,
	} {
		cfg := testConfig(srv)
		cfg.Tags = map[string]string{"env": "test", key: "x"}
		_, err := NewWriter(cfg)
		ce := requireConfigError(t, err, "Tags", text)
		assert.Contains(t, ce.Problem, `key "`+key+`"`)
	}

	// The sls:// URL says which part of it set the tag.
	t.Setenv(EnvAccessKeyID, slstest.DefaultAccessKeyID)
	t.Setenv(EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
	for _, tc := range []struct{ query, text string }{
		{"tag.__pack_id__=x", `tag.KEY parameters: key "__pack_id__": zapsls sends it`},
		{"topic=t-%D6%D0", `parameter topic: "t-\xd6\xd0": not valid UTF-8`},
		{"source=" + strings.Repeat("s", 129), "parameter source: "},
	} {
		zc := zap.NewProductionConfig()
		zc.OutputPaths = []string{"sls://" + srv.Addr() + "/proj/store?protocol=http&" + tc.query}
		_, err := zc.Build()
		require.Error(t, err, tc.query)
		assert.Contains(t, err.Error(), tc.text)
	}
	require.NoError(t, CloseSinks())
	assert.Empty(t, srv.Requests(), "nothing was sent")
}

// The neighbours that SLS accepts pass NewWriter and arrive as written:
// strings at their limits in multi-byte UTF-8, tag keys with underscores
// that are not reserved, names at their length bounds.
func TestNewWriterAcceptsStringsAtTheirLimits(t *testing.T) {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	topic := strings.Repeat("中", 42) + "ab" // 128 bytes
	source := strings.Repeat("s", 128)
	tags := map[string]string{
		"_private":               "中文",
		"a__b":                   "",
		"x__":                    "v",
		strings.Repeat("k", 128): "long key",
		"env":                    strings.Repeat("v", 4096),
	}
	for _, dest := range []struct{ project, logstore string }{
		{"abc", "a_b"},
		{strings.Repeat("p", 63), strings.Repeat("l", 63)},
		{"0-9", "my_store-1"},
	} {
		srv.Reset()
		w, _ := newTestWriter(t, srv, func(c *Config) {
			c.Project, c.Logstore, c.Topic, c.Source, c.Tags = dest.project, dest.logstore, topic, source, tags
		})
		_, err := w.Write([]byte(`{"msg":"at the limits"}`))
		require.NoError(t, err)
		require.NoError(t, w.Sync())
		logs := srv.Logs()
		require.Len(t, logs, 1, dest)
		l := logs[0]
		assert.Equal(t, dest.project, l.Project)
		assert.Equal(t, dest.logstore, l.Logstore)
		assert.Equal(t, topic, l.Topic)
		assert.Equal(t, source, l.Source)
		for k, v := range tags {
			assert.Equal(t, v, l.Tags[k], k)
		}
		require.NoError(t, w.Close())
	}
}

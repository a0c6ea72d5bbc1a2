package yamltest

import (
	"errors"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yamlv2 "gopkg.in/yaml.v2"
	k8syaml "sigs.k8s.io/yaml"

	"github.com/zapsls/zapsls"
)

// readmeExample is the YAML under "Config in a file" in README.md.
func readmeExample(t *testing.T) []byte {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)### Config in a file.*?```yaml\n(.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "README.md has no yaml block under \"Config in a file\"")
	return m[1]
}

func TestReadmeExampleDecodes(t *testing.T) {
	doc := readmeExample(t)
	want := zapsls.Config{
		Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "my-project", Logstore: "my-logstore",
		Topic: "api", Tags: map[string]string{"env": "prod"}, Linger: 500 * time.Millisecond,
		BufferBytes: 16 << 20, SpoolDir: "/var/lib/myapp/sls-spool",
	}
	for name, unmarshal := range map[string]func([]byte, interface{}) error{
		"gopkg.in/yaml.v2":        yamlv2.Unmarshal,
		"gopkg.in/yaml.v2 strict": yamlv2.UnmarshalStrict,
		"sigs.k8s.io/yaml":        func(b []byte, v interface{}) error { return k8syaml.Unmarshal(b, v) },
		"sigs.k8s.io/yaml strict": func(b []byte, v interface{}) error { return k8syaml.UnmarshalStrict(b, v) },
	} {
		t.Run(name, func(t *testing.T) {
			var c zapsls.Config
			require.NoError(t, unmarshal(doc, &c))
			assert.Equal(t, want, c)

			// A misspelt key is refused by name, a bare-number duration
			// with a hint.
			err := unmarshal([]byte("lingr: 5s\n"), &c)
			var ce *zapsls.ConfigError
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			assert.Equal(t, "lingr", ce.Key)
			assert.Contains(t, err.Error(), `did you mean "linger"?`)

			err = unmarshal([]byte("linger: 500\n"), &c)
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			assert.Equal(t, "Linger", ce.Field)
			assert.Contains(t, err.Error(), "a bare number is refused")

			err = unmarshal([]byte("tags: {shard: 1}\n"), &c)
			require.True(t, errors.As(err, &ce), "%T %v", err, err)
			assert.Equal(t, "Tags", ce.Field)
		})
	}
}

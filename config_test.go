package zapsls

import (
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// Every exported Config field has a row in the Config table, and the row's
// key is the field's json and yaml tag: the table drives decoding, URLs and
// errors, so a field missing from it would be silently undecodable.
func TestConfigTableCoversEveryField(t *testing.T) {
	typ := reflect.TypeOf(Config{})
	seenKeys := map[string]bool{}
	seenParams := map[string]bool{}
	for i := 0; i < typ.NumField(); i++ {
		sf := typ.Field(i)
		if !sf.IsExported() {
			continue
		}
		f := fieldByName(sf.Name)
		require.NotNil(t, f, "Config.%s has no row in configFields", sf.Name)
		if f.kind == kindCode {
			assert.Equal(t, "-", sf.Tag.Get("json"), sf.Name)
			assert.Equal(t, "-", sf.Tag.Get("yaml"), sf.Name)
			assert.Nil(t, f.ptr, sf.Name)
			continue
		}
		assert.Equal(t, f.key, sf.Tag.Get("json"), sf.Name)
		assert.Equal(t, f.key, sf.Tag.Get("yaml"), sf.Name)
		assert.False(t, seenKeys[f.key], "key %s twice", f.key)
		seenKeys[f.key] = true
		if f.param != "" {
			assert.False(t, seenParams[f.param], "param %s twice", f.param)
			seenParams[f.param] = true
		}
		// ptr points at the field it names.
		var c Config
		assert.Equal(t, reflect.ValueOf(&c).Elem().Field(i).Addr().Interface(), f.ptr(&c), sf.Name)
	}
	assert.Len(t, configFields, typ.NumField())
}

// The same sizes and durations decode alike from JSON, YAML and URLs.
func TestConfigSameGrammarEverywhere(t *testing.T) {
	want := Config{
		Endpoint: "https://cn-hangzhou.log.aliyuncs.com", Project: "proj", Logstore: "store",
		Topic: "api", Tags: map[string]string{"env": "prod"},
		BufferBytes: 16 << 20, MaxBatchBytes: 512 << 10, SpoolMaxBytes: 3000000,
		Linger: 500 * time.Millisecond, RetryTimeout: 90 * time.Second, MaxInflight: 8,
	}
	jsonDoc := `{"endpoint":"https://cn-hangzhou.log.aliyuncs.com","project":"proj","logstore":"store",
		"topic":"api","tags":{"env":"prod"},"bufferBytes":"16MiB","maxBatchBytes":"512KiB",
		"spoolMaxBytes":3000000,"linger":"500ms","retryTimeout":"1m30s","maxInflight":8}`
	yamlDoc := `
endpoint: https://cn-hangzhou.log.aliyuncs.com
project: proj
logstore: store
topic: api
tags: {env: prod}
bufferBytes: 16MiB
maxBatchBytes: 512KiB
spoolMaxBytes: 3000000
linger: 500ms
retryTimeout: 1m30s
maxInflight: 8
`
	var fromJSON, fromYAML Config
	require.NoError(t, json.Unmarshal([]byte(jsonDoc), &fromJSON))
	assert.Equal(t, want, fromJSON)
	require.NoError(t, yaml.Unmarshal([]byte(yamlDoc), &fromYAML))
	assert.Equal(t, want, fromYAML)
	fromURL, err := ConfigFromURL("sls://cn-hangzhou.log.aliyuncs.com/proj/store?topic=api&tag.env=prod&bufferBytes=16MiB&maxBatchBytes=512KiB&spoolMaxBytes=3000000&linger=500ms&retryTimeout=1m30s&maxInflight=8")
	require.NoError(t, err)
	assert.Equal(t, want, fromURL)

	// yaml.v3's strict mode goes through the same decoder.
	dec := yaml.NewDecoder(strings.NewReader(yamlDoc))
	dec.KnownFields(true)
	var strict Config
	require.NoError(t, dec.Decode(&strict))
	assert.Equal(t, want, strict)
}

// yaml.v2 hands UnmarshalYAML nested objects as map[interface{}]interface{}
// and numbers as int: this is that decoder's value for the README example,
// built by hand so that yaml.v2 is not a requirement of this module (the
// module internal/yamltest decodes the README with yaml.v2 and
// sigs.k8s.io/yaml themselves).
func TestConfigYAMLv2Values(t *testing.T) {
	v2 := map[string]interface{}{
		"endpoint":      "cn-hangzhou.log.aliyuncs.com",
		"project":       "my-project",
		"logstore":      "my-logstore",
		"tags":          map[interface{}]interface{}{"env": "prod", "team": nil},
		"linger":        "500ms",
		"bufferBytes":   "16MiB",
		"maxBatchBytes": 1048576,
	}
	var c Config
	require.NoError(t, c.UnmarshalYAML(func(out interface{}) error {
		*out.(*map[string]interface{}) = v2
		return nil
	}))
	assert.Equal(t, Config{
		Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "my-project", Logstore: "my-logstore",
		Tags: map[string]string{"env": "prod", "team": ""}, Linger: 500 * time.Millisecond,
		BufferBytes: 16 << 20, MaxBatchBytes: 1 << 20,
	}, c)

	v2["tags"] = map[interface{}]interface{}{1: "x"}
	err := c.UnmarshalYAML(func(out interface{}) error {
		*out.(*map[string]interface{}) = v2
		return nil
	})
	requireConfigError(t, err, "Tags", "want a string key")
}

func requireConfigError(t *testing.T, err error, field, text string) *ConfigError {
	t.Helper()
	require.Error(t, err)
	var ce *ConfigError
	require.True(t, errors.As(err, &ce), "%T: %v", err, err)
	assert.Equal(t, field, ce.Field, err.Error())
	assert.Contains(t, err.Error(), text)
	return ce
}

func TestConfigDecodingRefuses(t *testing.T) {
	for _, tc := range []struct {
		name, json, yaml string
		field, key, text string
	}{
		{"misspelt key", `{"lingr":"5s"}`, "lingr: 5s", "", "lingr", `unknown key "lingr" (did you mean "linger"?)`},
		{"wrong case", `{"Linger":"5s"}`, "Linger: 5s", "", "Linger", `unknown key "Linger" (did you mean "linger"?)`},
		{"far from any key", `{"colour":"blue"}`, "colour: blue", "", "colour", `unknown key "colour"`},
		{"bare number duration", `{"linger":500}`, "linger: 500", "Linger", "linger", "a bare number is refused"},
		{"bare float duration", `{"syncTimeout":1.5}`, "syncTimeout: 1.5", "SyncTimeout", "syncTimeout", "a bare number is refused"},
		{"duration without unit", `{"linger":"500"}`, `linger: "500"`, "Linger", "linger", `want a duration such as "500ms"`},
		{"bad duration", `{"linger":"soon"}`, "linger: soon", "Linger", "linger", `got "soon"`},
		{"bad size unit", `{"bufferBytes":"16MB/s"}`, "bufferBytes: 16MB/s", "BufferBytes", "bufferBytes", `want a size such as 4194304, "512KiB" or "16MiB"`},
		{"fractional size", `{"bufferBytes":1.5}`, "bufferBytes: 1.5", "BufferBytes", "bufferBytes", "want an integer or a size"},
		{"oversize size", `{"bufferBytes":"99999999999999GiB"}`, "bufferBytes: 99999999999999GiB", "BufferBytes", "bufferBytes", "too large"},
		{"number for a string", `{"topic":123}`, "topic: 123", "Topic", "topic", "want a string, got number 123 (quote it)"},
		{"boolean for a string", `{"source":true}`, "source: true", "Source", "source", "want a string, got boolean"},
		{"number tag value", `{"tags":{"shard":1}}`, "tags: {shard: 1}", "Tags", "tags", `key "shard": want a string value`},
		{"list for tags", `{"tags":["a"]}`, "tags: [a]", "Tags", "tags", "want an object of strings"},
		{"string for a count", `{"maxInflight":"many"}`, "maxInflight: many", "MaxInflight", "maxInflight", `want an integer, got "many"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var c Config
			err := json.Unmarshal([]byte(tc.json), &c)
			ce := requireConfigError(t, err, tc.field, tc.text)
			assert.Equal(t, tc.key, ce.Key)

			err = yaml.Unmarshal([]byte(tc.yaml), &c)
			ce = requireConfigError(t, err, tc.field, tc.text)
			assert.Equal(t, tc.key, ce.Key)

			dec := yaml.NewDecoder(strings.NewReader(tc.yaml))
			dec.KnownFields(true)
			requireConfigError(t, dec.Decode(&c), tc.field, tc.text)
		})
	}
	// A number 0 is the same in every unit, as time.ParseDuration("0").
	var c Config
	require.NoError(t, json.Unmarshal([]byte(`{"linger":0,"blockTimeout":"0"}`), &c))
	require.NoError(t, yaml.Unmarshal([]byte("linger: 0\n"), &c))
	// A secret's value is never quoted, not even a wrong one.
	err := json.Unmarshal([]byte(`{"accessKeySecret":12345678}`), &c)
	requireConfigError(t, err, "AccessKeySecret", "want a string")
	assert.NotContains(t, err.Error(), "12345678")
}

func TestConfigMarshalRoundTrip(t *testing.T) {
	c := Config{
		Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "proj", Logstore: "store",
		Tags: map[string]string{"env": "prod"}, BufferBytes: 16 << 20, Linger: 500 * time.Millisecond,
		AccessKeyID: "AKID", AccessKeySecret: "s3cr3t", SecurityToken: "t0k3n", MaxInflight: 2,
	}
	want := c
	want.AccessKeySecret, want.SecurityToken = "", ""

	b, err := json.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"linger":"500ms"`)
	assert.NotContains(t, string(b), "s3cr3t")
	assert.NotContains(t, string(b), "t0k3n")
	var back Config
	require.NoError(t, json.Unmarshal(b, &back))
	assert.Equal(t, want, back)

	y, err := yaml.Marshal(c)
	require.NoError(t, err)
	assert.Contains(t, string(y), "linger: 500ms")
	assert.NotContains(t, string(y), "s3cr3t")
	back = Config{}
	require.NoError(t, yaml.Unmarshal(y, &back))
	assert.Equal(t, want, back)
}

// Credentials half given name the half that is missing.
func TestConfigCredentialErrorsNameTheMissingField(t *testing.T) {
	base := Config{Endpoint: "cn-hangzhou.log.aliyuncs.com", Project: "proj", Logstore: "store"}
	for _, tc := range []struct {
		name             string
		id, secret, tok  string
		envID, envSecret string
		field, text      string
	}{
		{"id without secret", "AKID", "", "", "", "", "AccessKeySecret", "required with AccessKeyID"},
		{"secret without id", "", "s3cr3t", "", "", "", "AccessKeyID", "required with AccessKeySecret"},
		{"token alone", "", "", "t0k3n", "", "", "AccessKeyID", "required with AccessKeySecret or SecurityToken"},
		{"nothing anywhere", "", "", "", "", "", "AccessKeyID", "no credentials"},
		{"env id without env secret", "", "", "", "AKID", "", "AccessKeySecret", EnvAccessKeyID + " is set but " + EnvAccessKeySecret + " is not"},
		{"env secret without env id", "", "", "", "", "s3cr3t", "AccessKeyID", EnvAccessKeySecret + " is set but " + EnvAccessKeyID + " is not"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvAccessKeyID, tc.envID)
			t.Setenv(EnvAccessKeySecret, tc.envSecret)
			cfg := base
			cfg.AccessKeyID, cfg.AccessKeySecret, cfg.SecurityToken = tc.id, tc.secret, tc.tok
			_, err := NewWriter(cfg)
			requireConfigError(t, err, tc.field, tc.text)
			for _, secret := range []string{"AKID", "s3cr3t", "t0k3n"} {
				assert.NotContains(t, err.Error(), secret)
			}
		})
	}
}

// A URL parameter has the grammar of the JSON and YAML key, and its errors
// name the parameter.
func TestConfigFromURLRefuses(t *testing.T) {
	for _, tc := range []struct{ query, field, text string }{
		{"linger=500", "Linger", `sink URL sls://h/p/s?linger=500: parameter linger: want a duration such as "500ms"`},
		{"bufferBytes=16MB%2Fs", "BufferBytes", "parameter bufferBytes: want a size"},
		{"maxInflight=many", "MaxInflight", `parameter maxInflight: want an integer, got "many"`},
		{"lingr=5s", "", `unknown parameter "lingr"`},
		{"protocol=ftp", "Endpoint", `parameter protocol: want http or https, got "ftp"`},
	} {
		_, err := ConfigFromURL("sls://h/p/s?" + tc.query)
		requireConfigError(t, err, tc.field, tc.text)
	}
}

// README.md's Config reference has a row for every field of the Config
// table, with its URL parameter: the table and the reference cannot drift.
func TestREADMEConfigReferenceListsEveryField(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	require.NoError(t, err)
	text := string(readme)
	start := strings.Index(text, "## Config reference")
	require.GreaterOrEqual(t, start, 0)
	section := text[start:]
	if end := strings.Index(section[1:], "\n## "); end >= 0 {
		section = section[:end+1]
	}
	names, params := map[string]bool{}, map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cols := strings.Split(line, "|")
		if !strings.HasPrefix(line, "| `") || len(cols) < 4 {
			continue
		}
		for _, m := range regexp.MustCompile("`(\\w+)`").FindAllStringSubmatch(cols[1], -1) {
			names[m[1]] = true
		}
		for _, m := range regexp.MustCompile("`([\\w.]+)=`").FindAllStringSubmatch(cols[2], -1) {
			params[m[1]] = true
		}
	}
	for _, f := range configFields {
		assert.True(t, names[f.field], "README.md's Config reference has no row for %s", f.field)
		if f.param != "" {
			assert.True(t, params[f.param], "README.md's Config reference does not give %s's URL parameter %s=", f.field, f.param)
		}
	}
}

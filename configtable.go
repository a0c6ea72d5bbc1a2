package zapsls

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ConfigError is a setting that NewWriter, Config's JSON and YAML
// decoders, ConfigFromURL, the sls:// sink, a Destination or an encoder
// option refuse. It never holds a credential.
type ConfigError struct {
	// Field is the Config field at fault, such as "Linger" or "Tags" (a
	// Destination's is "Destination.Topic", an encoder option's its name,
	// "WithMaxValueBytes"); empty when the fault is a key or URL parameter
	// that names no field.
	Field string
	// Key is the JSON or YAML key, or the URL query parameter, as the user
	// wrote it, when the fault was found while decoding one; else empty.
	Key string
	// Problem says what is wrong and what is wanted.
	Problem string

	url string // the sink URL without user info, when the Config came from one
}

// Error names the field (Config.Linger), the key (config key linger) or,
// for a Config from a sink URL, the URL part (parameter linger), then the
// problem.
func (e *ConfigError) Error() string {
	var b strings.Builder
	b.WriteString("zapsls: ")
	switch {
	case e.url != "":
		fmt.Fprintf(&b, "sink URL %s: ", e.url)
		if part := e.urlPart(); part != "" {
			b.WriteString(part + ": ")
		}
	case e.Key != "" && e.Field != "":
		fmt.Fprintf(&b, "config key %s (Config.%s): ", e.Key, e.Field)
	case strings.Contains(e.Field, "."): // Destination.Logstore, say
		fmt.Fprintf(&b, "%s: ", e.Field)
	case e.Field != "":
		fmt.Fprintf(&b, "Config.%s: ", e.Field)
	default:
		b.WriteString("config: ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// urlPart names the part of a sink URL that set e.Field.
func (e *ConfigError) urlPart() string {
	if e.Key != "" {
		if e.Field == "" {
			return "" // the Problem names the parameter
		}
		return "parameter " + e.Key
	}
	if f := fieldByName(e.Field); f != nil {
		switch {
		case f.urlPart != "":
			return f.urlPart
		case f.param != "":
			return "parameter " + f.param
		}
	}
	if e.Field == "" {
		return ""
	}
	return "Config." + e.Field
}

func configErr(field, format string, args ...interface{}) *ConfigError {
	return &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// fieldKind is how a Config field is written in JSON, YAML and URLs.
type fieldKind int

const (
	kindString   fieldKind = iota // a string
	kindSecret                    // a string never echoed
	kindSize                      // bytes: 16777216, "16MiB", "512KiB"
	kindInt                       // a count: 4, "4"
	kindDuration                  // "500ms", "5s"; a bare number other than 0 is refused
	kindTags                      // an object of strings
	kindLines                     // LineOptions: an object; lines.KEY in URLs
	kindCode                      // set only in Go code (a func, an interface, a client)
)

// configField is one row of the Config table: the one place that says how
// a field is spelled in JSON, YAML and sink URLs, and how it is parsed.
type configField struct {
	field string // the Go field name, as errors name it
	key   string // the JSON and YAML key ("" for kindCode)
	// param is the sink URL query parameter ("" when the URL sets the
	// field elsewhere, or not at all); urlPart names, in errors, the part
	// of the URL that sets a field with no parameter of its own.
	param, urlPart string
	kind           fieldKind
	ptr            func(*Config) interface{} // *string, *int, *time.Duration or *map[string]string
}

// configFields is the Config table. Every exported field of Config has a
// row (a test checks it, and that key equals the field's json and yaml
// tags); README.md's Config reference lists the same rows.
var configFields = []configField{
	{field: "Endpoint", key: "endpoint", urlPart: "endpoint host", kind: kindString, ptr: func(c *Config) interface{} { return &c.Endpoint }},
	{field: "Project", key: "project", urlPart: "path /PROJECT/LOGSTORE: project", kind: kindString, ptr: func(c *Config) interface{} { return &c.Project }},
	{field: "Logstore", key: "logstore", urlPart: "path /PROJECT/LOGSTORE: logstore", kind: kindString, ptr: func(c *Config) interface{} { return &c.Logstore }},
	{field: "Topic", key: "topic", param: "topic", kind: kindString, ptr: func(c *Config) interface{} { return &c.Topic }},
	{field: "Source", key: "source", param: "source", kind: kindString, ptr: func(c *Config) interface{} { return &c.Source }},
	{field: "Tags", key: "tags", urlPart: "tag.KEY parameters", kind: kindTags, ptr: func(c *Config) interface{} { return &c.Tags }},
	{field: "ShardKey", key: "shardKey", param: "hashKey", kind: kindString, ptr: func(c *Config) interface{} { return &c.ShardKey }},
	{field: "ShardHashBuckets", key: "shardHashBuckets", param: "shardHashBuckets", kind: kindInt, ptr: func(c *Config) interface{} { return &c.ShardHashBuckets }},
	{field: "Processor", key: "processor", param: "processor", kind: kindString, ptr: func(c *Config) interface{} { return &c.Processor }},
	{field: "AccessKeyID", key: "accessKeyId", urlPart: "credentials (environment)", kind: kindSecret, ptr: func(c *Config) interface{} { return &c.AccessKeyID }},
	{field: "AccessKeySecret", key: "accessKeySecret", urlPart: "credentials (environment)", kind: kindSecret, ptr: func(c *Config) interface{} { return &c.AccessKeySecret }},
	{field: "SecurityToken", key: "securityToken", urlPart: "credentials (environment)", kind: kindSecret, ptr: func(c *Config) interface{} { return &c.SecurityToken }},
	{field: "Credentials", kind: kindCode},
	{field: "CredentialsFrom", key: "credentials", param: "credentials", kind: kindString, ptr: func(c *Config) interface{} { return &c.CredentialsFrom }},
	{field: "RAMRole", key: "ramRole", param: "role", kind: kindString, ptr: func(c *Config) interface{} { return &c.RAMRole }},
	{field: "SignatureVersion", key: "signatureVersion", param: "signatureVersion", kind: kindString, ptr: func(c *Config) interface{} { return &c.SignatureVersion }},
	{field: "Region", key: "region", param: "region", kind: kindString, ptr: func(c *Config) interface{} { return &c.Region }},
	{field: "Compression", key: "compression", param: "compress", kind: kindString, ptr: func(c *Config) interface{} { return &c.Compression }},
	{field: "BufferBytes", key: "bufferBytes", param: "bufferBytes", kind: kindSize, ptr: func(c *Config) interface{} { return &c.BufferBytes }},
	{field: "OnFull", key: "onFull", param: "onFull", kind: kindString, ptr: func(c *Config) interface{} { return &c.OnFull }},
	{field: "BlockTimeout", key: "blockTimeout", param: "blockTimeout", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.BlockTimeout }},
	{field: "MaxBatchBytes", key: "maxBatchBytes", param: "maxBatchBytes", kind: kindSize, ptr: func(c *Config) interface{} { return &c.MaxBatchBytes }},
	{field: "MaxBatchCount", key: "maxBatchCount", param: "maxBatchCount", kind: kindInt, ptr: func(c *Config) interface{} { return &c.MaxBatchCount }},
	{field: "Linger", key: "linger", param: "linger", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.Linger }},
	{field: "MaxInflight", key: "maxInflight", param: "maxInflight", kind: kindInt, ptr: func(c *Config) interface{} { return &c.MaxInflight }},
	{field: "RequestTimeout", key: "requestTimeout", param: "requestTimeout", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.RequestTimeout }},
	{field: "RetryTimeout", key: "retryTimeout", param: "retryTimeout", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.RetryTimeout }},
	{field: "RetryBackoff", key: "retryBackoff", param: "retryBackoff", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.RetryBackoff }},
	{field: "RetryBackoffMax", key: "retryBackoffMax", param: "retryBackoffMax", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.RetryBackoffMax }},
	{field: "SyncTimeout", key: "syncTimeout", param: "syncTimeout", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.SyncTimeout }},
	{field: "CloseTimeout", key: "closeTimeout", param: "closeTimeout", kind: kindDuration, ptr: func(c *Config) interface{} { return &c.CloseTimeout }},
	{field: "SpoolDir", key: "spoolDir", param: "spool", kind: kindString, ptr: func(c *Config) interface{} { return &c.SpoolDir }},
	{field: "SpoolMaxBytes", key: "spoolMaxBytes", param: "spoolMaxBytes", kind: kindSize, ptr: func(c *Config) interface{} { return &c.SpoolMaxBytes }},
	{field: "Lines", key: "lines", urlPart: "lines.KEY parameters", kind: kindLines, ptr: func(c *Config) interface{} { return &c.Lines }},
	{field: "HTTPClient", kind: kindCode},
	{field: "UserAgent", key: "userAgent", param: "userAgent", kind: kindString, ptr: func(c *Config) interface{} { return &c.UserAgent }},
	{field: "OnError", kind: kindCode},
	{field: "OnDelivered", kind: kindCode},
}

func fieldByName(name string) *configField {
	for i := range configFields {
		if configFields[i].field == name {
			return &configFields[i]
		}
	}
	return nil
}

func fieldByKey(key string) *configField {
	for i := range configFields {
		if configFields[i].kind != kindCode && configFields[i].key == key {
			return &configFields[i]
		}
	}
	return nil
}

func fieldByParam(param string) *configField {
	for i := range configFields {
		if configFields[i].param != "" && configFields[i].param == param {
			return &configFields[i]
		}
	}
	return nil
}

// setText parses v, as written in a URL or as a JSON or YAML string, into
// the field. The grammar is the same in all three.
func (f *configField) setText(c *Config, v string) *ConfigError {
	switch p := f.ptr(c).(type) {
	case *string:
		*p = v
	case *int:
		if f.kind == kindSize {
			n, err := parseSize(v)
			if err != nil {
				return &ConfigError{Field: f.field, Problem: err.Error()}
			}
			*p = n
			return nil
		}
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return configErr(f.field, "want an integer, got %q", v)
		}
		*p = n
	case *time.Duration:
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			return configErr(f.field, "want a duration such as \"500ms\" or \"5s\", got %q", v)
		}
		*p = d
	default:
		return configErr(f.field, "want an object of strings, got %q", v)
	}
	return nil
}

// setValue stores a decoded JSON or YAML value (string, number, bool, nil,
// map) into the field. Strings go through setText; numbers are taken as
// bytes for sizes and as counts for integers, and refused for durations
// (a bare 500 would be nanoseconds), except 0.
func (f *configField) setValue(c *Config, v interface{}) *ConfigError {
	if v == nil {
		return f.setZero(c)
	}
	if s, ok := v.(string); ok && f.kind != kindTags && f.kind != kindLines {
		return f.setText(c, s)
	}
	switch f.kind {
	case kindString, kindSecret:
		if f.kind == kindSecret {
			return configErr(f.field, "want a string, got a %s", typeName(v))
		}
		return configErr(f.field, "want a string, got %s %v (quote it)", typeName(v), v)
	case kindSize, kindInt:
		n, ok := integer(v)
		if !ok {
			return configErr(f.field, "want an integer or a size such as \"16MiB\", got %s %v", typeName(v), v)
		}
		*f.ptr(c).(*int) = n
	case kindDuration:
		if n, ok := integer(v); ok && n == 0 {
			*f.ptr(c).(*time.Duration) = 0
			return nil
		}
		return configErr(f.field, "want a duration with a unit, such as \"500ms\" or \"5s\", got %s %v (a bare number is refused: it would mean nanoseconds)", typeName(v), v)
	case kindTags:
		tags, err := stringMap(v)
		if err != "" {
			return configErr(f.field, "%s", err)
		}
		*f.ptr(c).(*map[string]string) = tags
	case kindLines:
		if err := c.Lines.decode("", v); err != "" {
			return configErr(f.field, "%s", err)
		}
	}
	return nil
}

func (f *configField) setZero(c *Config) *ConfigError {
	switch p := f.ptr(c).(type) {
	case *string:
		*p = ""
	case *int:
		*p = 0
	case *time.Duration:
		*p = 0
	case *map[string]string:
		*p = nil
	case *LineOptions:
		*p = LineOptions{}
	}
	return nil
}

// value returns the field as JSON and YAML encode it, and whether it is
// set: durations as "500ms", sizes and counts as numbers.
func (f *configField) value(c *Config) (interface{}, bool) {
	switch p := f.ptr(c).(type) {
	case *string:
		return *p, *p != ""
	case *int:
		return *p, *p != 0
	case *time.Duration:
		return p.String(), *p != 0
	case *map[string]string:
		return *p, *p != nil
	case *LineOptions:
		m := p.asMap()
		return m, len(m) > 0
	}
	return nil, false
}

func typeName(v interface{}) string {
	switch v.(type) {
	case bool:
		return "boolean"
	case map[string]interface{}, map[interface{}]interface{}:
		return "object"
	case []interface{}:
		return "list"
	case json.Number, int, int64, uint64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// integer reads a whole number as the JSON and YAML decoders hand it over.
func integer(v interface{}) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), n >= math.MinInt && n <= math.MaxInt
	case uint64:
		return int(n), n <= math.MaxInt
	case float64:
		return int(n), n == math.Trunc(n) && math.Abs(n) < 1<<53
	case json.Number:
		i, err := n.Int64()
		return int(i), err == nil && i >= math.MinInt && i <= math.MaxInt
	}
	return 0, false
}

// stringMap reads an object of strings: map[string]interface{} from JSON,
// yaml.v3 and sigs.k8s.io/yaml, map[interface{}]interface{} from yaml.v2.
func stringMap(v interface{}) (map[string]string, string) {
	out := map[string]string{}
	put := func(k interface{}, val interface{}) string {
		ks, ok := k.(string)
		if !ok {
			return fmt.Sprintf("key %v: want a string key (quote it)", k)
		}
		switch s := val.(type) {
		case string:
			out[ks] = s
		case nil:
			out[ks] = ""
		default:
			return fmt.Sprintf("key %q: want a string value, got %s %v (quote it)", ks, typeName(val), val)
		}
		return ""
	}
	switch m := v.(type) {
	case map[string]interface{}:
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if err := put(k, m[k]); err != "" {
				return nil, err
			}
		}
	case map[interface{}]interface{}:
		keys := make([]string, 0, len(m))
		byText := map[string]interface{}{}
		for k := range m {
			t := fmt.Sprint(k)
			keys = append(keys, t)
			byText[t] = k
		}
		sort.Strings(keys)
		for _, t := range keys {
			k := byText[t]
			if err := put(k, m[k]); err != "" {
				return nil, err
			}
		}
	case map[string]string:
		for k, s := range m {
			out[k] = s
		}
	default:
		return nil, fmt.Sprintf("want an object of strings, got %s", typeName(v))
	}
	return out, ""
}

// decodeMap sets c's fields from a decoded JSON or YAML object, refusing
// keys that name no field.
func (c *Config) decodeMap(m map[string]interface{}) error {
	for _, key := range slices.Sorted(maps.Keys(m)) {
		f := fieldByKey(key)
		if f == nil {
			return &ConfigError{Key: key, Problem: fmt.Sprintf("unknown key %q%s", key, suggest(key))}
		}
		if err := f.setValue(c, m[key]); err != nil {
			err.Key = key
			return err
		}
	}
	return nil
}

// suggest returns ` (did you mean "linger"?)` for a key close to one of
// the table's, or "".
func suggest(key string) string {
	best, bestDist := "", 3
	for _, f := range configFields {
		if f.kind == kindCode {
			continue
		}
		if strings.EqualFold(f.key, key) {
			return fmt.Sprintf(" (did you mean %q?)", f.key)
		}
		if d := editDistance(strings.ToLower(key), strings.ToLower(f.key)); d < bestDist {
			best, bestDist = f.key, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// UnmarshalJSON decodes a Config from a JSON object whose keys are the
// fields' json tags. Sizes are bytes, as a number or a string with a unit
// ("16MiB", "512KiB"); durations are strings with a unit ("500ms", "5s"),
// and a bare number for a duration is refused (it would mean nanoseconds),
// except 0. An unknown key is an error naming it. Errors are *ConfigError.
func (c *Config) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]interface{}
	if err := dec.Decode(&m); err != nil {
		return &ConfigError{Problem: "want a JSON object: " + err.Error()}
	}
	return c.decodeMap(m)
}

// UnmarshalYAML decodes a Config from YAML as UnmarshalJSON does from JSON:
// the same keys, the same size and duration grammar, unknown keys refused.
// It has the interface of gopkg.in/yaml.v2, which go.yaml.in/yaml/v3 and
// gopkg.in/yaml.v3 also call; sigs.k8s.io/yaml goes through UnmarshalJSON.
func (c *Config) UnmarshalYAML(unmarshal func(interface{}) error) error {
	var m map[string]interface{}
	if err := unmarshal(&m); err != nil {
		return err
	}
	return c.decodeMap(m)
}

// marshalMap is the Config as its decoders read it, without the fields
// set only in code and without AccessKeySecret and SecurityToken, so that
// a marshalled Config never carries a secret.
func (c *Config) marshalMap() map[string]interface{} {
	m := map[string]interface{}{}
	for _, f := range configFields {
		if f.kind == kindCode || f.field == "AccessKeySecret" || f.field == "SecurityToken" {
			continue
		}
		if v, ok := f.value(c); ok {
			m[f.key] = v
		}
	}
	return m
}

// MarshalJSON encodes the Config so that UnmarshalJSON reads it back:
// durations as strings such as "500ms", unset fields left out. It leaves
// out AccessKeySecret and SecurityToken, so that logging a Config never
// logs a secret, and the fields set only in code (Credentials, HTTPClient,
// OnError).
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(c.marshalMap())
}

// MarshalYAML is MarshalJSON for gopkg.in/yaml.v2 and v3.
func (c Config) MarshalYAML() (interface{}, error) {
	return c.marshalMap(), nil
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
	unit := map[string]int{"": 1, "b": 1, "kb": 1 << 10, "kib": 1 << 10, "mb": 1 << 20, "mib": 1 << 20, "gb": 1 << 30, "gib": 1 << 30}
	m, ok := unit[strings.TrimSpace(s[i:])]
	if err != nil || !ok {
		return 0, fmt.Errorf("want a size such as 4194304, \"512KiB\" or \"16MiB\", got %q", v)
	}
	if n > math.MaxInt/m {
		return 0, fmt.Errorf("size %q is too large", v)
	}
	return n * m, nil
}

package zapsls

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits of the strings a Config sends with every batch. A string beyond
// them would make SLS refuse every request (400 InvalidEncoding,
// PostBodyInvalid, InvalidKey), so NewWriter refuses it instead
// (README.md, "Config reference").
const (
	// MaxTopicBytes bounds Config.Topic and Config.Source: the LogGroup's
	// __topic__ and __source__ are at most 128 bytes.
	MaxTopicBytes = 128
	// MaxTagKeyBytes bounds a key of Config.Tags, as SLS bounds a key.
	MaxTagKeyBytes = MaxKeyBytes
	// MaxTagValueBytes bounds a value of Config.Tags, as SLS bounds a
	// content value.
	MaxTagValueBytes = DefaultMaxValueBytes
)

// checkNames refuses every string of c that SLS would refuse: the project
// and logstore by SLS's naming rules (as Destination.check), topic, source,
// processor and tags by their
// encoding (UTF-8), their lengths, and the tag keys SLS or zapsls reserve.
// The errors name the field and quote the string (none of them is a
// secret).
func (c *Config) checkNames() *ConfigError {
	if c.Project == "" {
		return configErr("Project", "required")
	}
	if c.Logstore == "" {
		return configErr("Logstore", "required")
	}
	d := Destination{Project: c.Project, Logstore: c.Logstore, Topic: c.Topic, Source: c.Source, Processor: c.Processor}
	if err := d.checkAs(""); err != nil {
		return err
	}
	for _, k := range slices.Sorted(maps.Keys(c.Tags)) {
		if k == "" {
			return configErr("Tags", "empty key: SLS refuses it")
		}
		if problem := checkText(k, MaxTagKeyBytes); problem != "" {
			return configErr("Tags", "key %q: %s", k, problem)
		}
		if strings.HasPrefix(k, "__") {
			return configErr("Tags", "key %q: %s", k, reservedTagProblem(k))
		}
		if problem := checkText(c.Tags[k], MaxTagValueBytes); problem != "" {
			// The value is not quoted: it may be long.
			return configErr("Tags", "value of key %q: %s", k, problem)
		}
	}
	return nil
}

// reservedTagProblem explains why a tag key starting with "__" is refused.
// SLS names its own tags __NAME__ (__client_ip__, __receive_time__,
// __hostname__, __path__, __user_defined_id__, __pack_id__, ...) and shows
// them beside the user's as __tag__:__NAME__; zapsls sends __pack_id__
// with every batch. A user's tag of that shape would be sent twice, or
// shadow the service's, so the whole "__" prefix is kept for them.
func reservedTagProblem(k string) string {
	switch k {
	case "__pack_id__":
		return "zapsls sends it with every batch (context browsing and duplicate recognition need exactly one)"
	case "__client_ip__", "__receive_time__", "__hostname__", "__path__", "__user_defined_id__":
		return "SLS reserves it for its own tag"
	}
	return `tag keys starting with "__" are reserved for SLS's own tags`
}

// checkText returns what is wrong with s as an SLS string of at most limit
// bytes, or "".
func checkText(s string, limit int) string {
	switch {
	case !utf8.ValidString(s):
		return "not valid UTF-8 (SLS refuses it with InvalidEncoding)"
	case len(s) > limit:
		return fmt.Sprintf("%d bytes: SLS allows at most %d", len(s), limit)
	}
	return ""
}

// checkName returns what is wrong with a project name (lower-case letters,
// digits and hyphens) or a logstore name (also underscores) by SLS's
// naming rules: 3 to 63 characters, starting and ending with a letter or
// digit. It returns "" for a valid name.
func checkName(s string, underscore bool) string {
	want := "lower-case letters, digits and hyphens"
	if underscore {
		want = "lower-case letters, digits, hyphens and underscores"
	}
	if len(s) < 3 || len(s) > 63 {
		return fmt.Sprintf("%d characters: SLS names have 3 to 63 (%s)", utf8.RuneCountInString(s), want)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || underscore && r == '_') {
			return "want " + want
		}
	}
	edge := func(b byte) bool { return b >= 'a' && b <= 'z' || b >= '0' && b <= '9' }
	if !edge(s[0]) || !edge(s[len(s)-1]) {
		return "want a lower-case letter or digit first and last"
	}
	return ""
}

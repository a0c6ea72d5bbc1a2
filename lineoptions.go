package zapsls

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// LineOptions says how a Writer reads entries that no zapsls Encoder of
// the application built: JSON objects, one per line (zap's "json"
// encoding), console lines (zap's "console" encoding), and the framed Logs
// of the "sls" encoding that zap.Config builds (see EncodingName). It
// offers the message and built-in options of NewEncoder (WithMessageJSON,
// WithMessageKV, WithBuiltinAffixes, WithBuiltinRoot) to those entries,
// with the same implementation. Its zero value reads zap's production keys
// and changes nothing.
//
// Console lines are shipped whole (see ContentKey): their message is not
// told apart from the rest, so MessageJSON and MessageKV pass them by.
//
// The keys are those of the zap EncoderConfig that wrote the lines. An
// empty key means zap's production default ("msg", "level", "ts",
// "logger", "caller", no function key, "stacktrace"); FieldOff ("-") means
// the lines have no such part. These keys, ContentKey, and the FieldSet
// defaults "pid", "program" and "hostname" (which the "sls" encoding
// writes) are the built-in keys that BuiltinPrefix, BuiltinSuffix and
// BuiltinRoot act on; MessageKey is where MessageJSON and MessageKV look.
//
// Config.Lines holds it; in JSON, YAML and sink URLs its keys are the json
// tags below, under "lines" (sls://...?lines.messageJSON.dropMessage=true).
// A Writer that rewrites frames (a message or built-in option is set)
// rewrites those of NewEncoder too: give an encoder built with its own
// options a Writer without them.
type LineOptions struct {
	MessageKey    string `json:"messageKey,omitempty" yaml:"messageKey,omitempty"`
	LevelKey      string `json:"levelKey,omitempty" yaml:"levelKey,omitempty"`
	TimeKey       string `json:"timeKey,omitempty" yaml:"timeKey,omitempty"`
	NameKey       string `json:"nameKey,omitempty" yaml:"nameKey,omitempty"`
	CallerKey     string `json:"callerKey,omitempty" yaml:"callerKey,omitempty"`
	FunctionKey   string `json:"functionKey,omitempty" yaml:"functionKey,omitempty"`
	StacktraceKey string `json:"stacktraceKey,omitempty" yaml:"stacktraceKey,omitempty"`
	// ContentKey names the content that holds a line that is not JSON (a
	// console line, with the stack trace lines that follow it). Default
	// "content", as the SLS Java appenders name it.
	ContentKey string `json:"contentKey,omitempty" yaml:"contentKey,omitempty"`

	// LevelNumberKey, FileNameKey, ModuleKey and UptimeKey, when set, add
	// the FieldSet fields of those names, derived from what the entry
	// carries: the level number from the level (LevelKey), the file name
	// from the caller (CallerKey, "dir/file.go:12"), the module from the
	// function (FunctionKey: the caller's package path), the uptime from
	// the entry's time (ms since this process started). A part the entry
	// lacks adds nothing. Default off.
	LevelNumberKey string `json:"levelNumberKey,omitempty" yaml:"levelNumberKey,omitempty"`
	FileNameKey    string `json:"fileNameKey,omitempty" yaml:"fileNameKey,omitempty"`
	ModuleKey      string `json:"moduleKey,omitempty" yaml:"moduleKey,omitempty"`
	UptimeKey      string `json:"uptimeKey,omitempty" yaml:"uptimeKey,omitempty"`

	// MessageJSON and MessageKV, when set, are WithMessageJSON and
	// WithMessageKV for the message under MessageKey.
	MessageJSON *Extract `json:"messageJSON,omitempty" yaml:"messageJSON,omitempty"`
	MessageKV   *Extract `json:"messageKV,omitempty" yaml:"messageKV,omitempty"`
	// BuiltinPrefix, BuiltinSuffix and BuiltinRoot are WithBuiltinAffixes
	// and WithBuiltinRoot for the built-in keys.
	BuiltinPrefix string `json:"builtinPrefix,omitempty" yaml:"builtinPrefix,omitempty"`
	BuiltinSuffix string `json:"builtinSuffix,omitempty" yaml:"builtinSuffix,omitempty"`
	BuiltinRoot   string `json:"builtinRoot,omitempty" yaml:"builtinRoot,omitempty"`
}

// lineStringKeys are the string fields of LineOptions by key.
func (o *LineOptions) lineStringKeys() map[string]*string {
	return map[string]*string{
		"messageKey": &o.MessageKey, "levelKey": &o.LevelKey, "timeKey": &o.TimeKey, "nameKey": &o.NameKey,
		"callerKey": &o.CallerKey, "functionKey": &o.FunctionKey, "stacktraceKey": &o.StacktraceKey,
		"contentKey": &o.ContentKey, "builtinPrefix": &o.BuiltinPrefix, "builtinSuffix": &o.BuiltinSuffix,
		"builtinRoot": &o.BuiltinRoot, "levelNumberKey": &o.LevelNumberKey, "fileNameKey": &o.FileNameKey,
		"moduleKey": &o.ModuleKey, "uptimeKey": &o.UptimeKey,
	}
}

// set sets one key of o from text, as a URL parameter lines.KEY gives it:
// a string key, messageJSON or messageKV (true or false: on or off), or
// messageJSON.KEY / messageKV.KEY for the Extract's prefix, suffix,
// dropMessage (true or false) and, for messageKV, separator. Setting an
// Extract's key turns that extraction on. It returns the problem, or "".
func (o *LineOptions) set(key, v string) string {
	if p, ok := o.lineStringKeys()[key]; ok {
		*p = v
		return ""
	}
	name, sub, nested := strings.Cut(key, ".")
	var x **Extract
	switch name {
	case "messageJSON":
		x = &o.MessageJSON
	case "messageKV":
		x = &o.MessageKV
	default:
		return fmt.Sprintf("unknown key %q: want one of %s", "lines."+key, strings.Join(lineKeyNames(), ", "))
	}
	if !nested {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Sprintf("lines.%s: want true or false, got %q", key, v)
		}
		switch {
		case !on:
			*x = nil
		case *x == nil:
			*x = &Extract{}
		}
		return ""
	}
	if *x == nil {
		*x = &Extract{}
	}
	switch {
	case sub == "prefix":
		(*x).Prefix = v
	case sub == "suffix":
		(*x).Suffix = v
	case sub == "separator" && name == "messageKV":
		(*x).Separator = v
	case sub == "dropMessage":
		drop, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Sprintf("lines.%s: want true or false, got %q", key, v)
		}
		(*x).DropMessage = drop
	default:
		return fmt.Sprintf("unknown key %q: want %s.prefix, .suffix, .dropMessage%s", "lines."+key, name,
			map[bool]string{true: " or .separator", false: ""}[name == "messageKV"])
	}
	return ""
}

func lineKeyNames() []string {
	names := slices.Sorted(maps.Keys((&LineOptions{}).lineStringKeys()))
	return append(names, "messageJSON", "messageKV")
}

// decode sets o from a decoded JSON or YAML value at path: an object whose
// keys set goes through, nested objects for messageJSON and messageKV
// (true and false are accepted for them too). It returns the problem, or "".
func (o *LineOptions) decode(path string, v interface{}) string {
	var m map[string]interface{}
	switch t := v.(type) {
	case map[string]interface{}:
		m = t
	case map[interface{}]interface{}: // yaml.v2
		m = map[string]interface{}{}
		for k, val := range t {
			ks, ok := k.(string)
			if !ok {
				return fmt.Sprintf("key %v: want a string key", k)
			}
			m[ks] = val
		}
	default:
		if path == "" {
			return fmt.Sprintf("want an object, got %s", typeName(v))
		}
		return o.set(path, scalarText(v))
	}
	if path != "" && path != "messageJSON" && path != "messageKV" {
		return fmt.Sprintf("lines.%s: want a string, got an object", path)
	}
	if path != "" && len(m) == 0 {
		return o.set(path, "true")
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := k
		if path != "" {
			key = path + "." + k
		}
		if err := o.decode(key, m[k]); err != "" {
			return err
		}
	}
	return ""
}

// scalarText is a decoded JSON or YAML scalar as set reads it.
func scalarText(v interface{}) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// asMap is o as decode reads it back, unset keys left out.
func (o LineOptions) asMap() map[string]interface{} {
	m := map[string]interface{}{}
	for k, p := range o.lineStringKeys() {
		if *p != "" {
			m[k] = *p
		}
	}
	extract := func(x *Extract, kv bool) map[string]interface{} {
		e := map[string]interface{}{}
		if x.Prefix != "" {
			e["prefix"] = x.Prefix
		}
		if x.Suffix != "" {
			e["suffix"] = x.Suffix
		}
		if x.DropMessage {
			e["dropMessage"] = true
		}
		if kv && x.Separator != "" {
			e["separator"] = x.Separator
		}
		return e
	}
	if o.MessageJSON != nil {
		m["messageJSON"] = extract(o.MessageJSON, false)
	}
	if o.MessageKV != nil {
		m["messageKV"] = extract(o.MessageKV, true)
	}
	return m
}

// check returns what makes o unusable, or "".
func (o LineOptions) check() string {
	if x := o.MessageKV; x != nil && x.Separator != "" && strings.TrimSpace(x.Separator) != x.Separator {
		return fmt.Sprintf("messageKV.separator %q: spaces around the separator are allowed anyway; leave them out", x.Separator)
	}
	if x := o.MessageKV; x != nil && strings.Contains(x.Separator, `"`) {
		return fmt.Sprintf("messageKV.separator %q: a double quote opens a quoted value", x.Separator)
	}
	for _, k := range []string{o.MessageKey, o.LevelKey, o.TimeKey, o.NameKey, o.CallerKey, o.FunctionKey, o.StacktraceKey, o.ContentKey,
		o.LevelNumberKey, o.FileNameKey, o.ModuleKey, o.UptimeKey} {
		if len(k) > MaxKeyBytes {
			return fmt.Sprintf("key %q: %d bytes, SLS allows at most %d", k, len(k), MaxKeyBytes)
		}
	}
	if o.ContentKey == FieldOff {
		return "contentKey: a text line needs a key"
	}
	return ""
}

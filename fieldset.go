package zapsls

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FieldOff, as a FieldSet key, leaves that field out.
const FieldOff = "-"

// FieldSet selects and names the built-in fields that zap's EncoderConfig has
// no key for, in the spirit of the `fields` parameter (LogFields) of the
// Python SLS SDK's QueuedLogHandler.
//
// Every key follows one rule: an empty key means that field's default, and
// FieldOff ("-") leaves the field out. The defaults: PIDKey "pid",
// ProgramKey "program" and HostnameKey "hostname" are on; every other field
// is off. So the zero FieldSet is DefaultFieldSet, and
// FieldSet{FileKey: "file"} adds the file and keeps pid, program and
// hostname; FieldSet{PIDKey: FieldOff} drops only the pid.
//
// Message, level, logger name, caller, function and stack trace are named by
// the EncoderConfig keys (MessageKey, LevelKey, NameKey, CallerKey,
// FunctionKey, StacktraceKey) as with every zap encoder; FieldSet adds the
// rest, so that each field has exactly one place where it is named.
//
// Per-process values (PID, program, hostname) are encoded once, when the
// encoder is built, and copied into every Log as contents. They are contents
// rather than LogTags because tags belong to a LogGroup, that is to a Writer,
// while a FieldSet belongs to an encoder, and several encoders may share one
// Writer.
type FieldSet struct {
	// FileKey names the caller's file path, taken from the entry's caller
	// (requires zap.AddCaller). Default off: CallerKey already carries
	// "file:line"; turn this on to search or group by file.
	FileKey string `json:"fileKey" yaml:"fileKey"`
	// LineKey names the caller's line number as its own content, so it can be
	// indexed as a number. Default off, for the reason above.
	LineKey string `json:"lineKey" yaml:"lineKey"`
	// PIDKey names the process id. Default "pid".
	PIDKey string `json:"pidKey" yaml:"pidKey"`
	// ProgramKey names the program: the base name of os.Args[0].
	// Default "program".
	ProgramKey string `json:"programKey" yaml:"programKey"`
	// HostnameKey names os.Hostname(). Default "hostname".
	HostnameKey string `json:"hostnameKey" yaml:"hostnameKey"`
	// LevelNumberKey names the level as zap numbers it (zapcore.Level:
	// debug -1, info 0, warn 1, error 2, dpanic 3, panic 4, fatal 5), an
	// integer, for range queries such as "levelno >= 1". Default off. (The
	// Python handler's levelno counts 10, 20, ...: the order is the same.)
	LevelNumberKey string `json:"levelNumberKey" yaml:"levelNumberKey"`
	// FileNameKey names the base name of the caller's file ("main.go"),
	// the Python handler's filename. Requires zap.AddCaller. Default off.
	FileNameKey string `json:"fileNameKey" yaml:"fileNameKey"`
	// ModuleKey names the Go package path of the caller
	// ("github.com/acme/shop/cart"), taken from the caller's function name:
	// the Go counterpart of the Python handler's module. Requires
	// zap.AddCaller. Default off.
	ModuleKey string `json:"moduleKey" yaml:"moduleKey"`
	// UptimeKey names the milliseconds from the start of the process (the
	// moment the zapsls package was initialised) to the entry's time, an
	// integer: the Python handler's relativeCreated, which counts from the
	// import of its logging module. Default off.
	UptimeKey string `json:"uptimeKey" yaml:"uptimeKey"`
}

// DefaultFieldSet is what NewEncoder uses without WithFieldSet, and what the
// zero FieldSet means: the process id, program name and hostname, which cost
// a copy of a few bytes per entry and tell apart the instances of a service
// writing to one logstore.
func DefaultFieldSet() FieldSet {
	return FieldSet{PIDKey: "pid", ProgramKey: "program", HostnameKey: "hostname"}
}

// NoFieldSet is the FieldSet with every field off: only the EncoderConfig's
// parts and the entry's own fields are written.
func NoFieldSet() FieldSet {
	return FieldSet{FileKey: FieldOff, LineKey: FieldOff, PIDKey: FieldOff, ProgramKey: FieldOff, HostnameKey: FieldOff,
		LevelNumberKey: FieldOff, FileNameKey: FieldOff, ModuleKey: FieldOff, UptimeKey: FieldOff}
}

// resolved returns fs with each key as the encoder writes it: the default
// for an empty key, "" for a field left out.
func (fs FieldSet) resolved() FieldSet {
	pick := keyOrDefault
	return FieldSet{
		FileKey:        pick(fs.FileKey, ""),
		LineKey:        pick(fs.LineKey, ""),
		PIDKey:         pick(fs.PIDKey, "pid"),
		ProgramKey:     pick(fs.ProgramKey, "program"),
		HostnameKey:    pick(fs.HostnameKey, "hostname"),
		LevelNumberKey: pick(fs.LevelNumberKey, ""),
		FileNameKey:    pick(fs.FileNameKey, ""),
		ModuleKey:      pick(fs.ModuleKey, ""),
		UptimeKey:      pick(fs.UptimeKey, ""),
	}
}

// keyOrDefault resolves a key where "" means the default def and FieldOff
// means none ("").
func keyOrDefault(key, def string) string {
	switch key {
	case "":
		return def
	case FieldOff:
		return ""
	}
	return key
}

// affixed returns the resolved fs with prefix and suffix around every key
// that is on.
func (fs FieldSet) affixed(prefix, suffix string) FieldSet {
	for _, k := range fs.keys() {
		if *k != "" {
			*k = prefix + *k + suffix
		}
	}
	return fs
}

func (fs *FieldSet) keys() []*string {
	return []*string{&fs.FileKey, &fs.LineKey, &fs.PIDKey, &fs.ProgramKey, &fs.HostnameKey,
		&fs.LevelNumberKey, &fs.FileNameKey, &fs.ModuleKey, &fs.UptimeKey}
}

// processValues returns the per-process fields of a resolved FieldSet as
// key/value pairs, in a fixed order.
func (fs FieldSet) processValues() [][2]string {
	var kv [][2]string
	if fs.PIDKey != "" {
		kv = append(kv, [2]string{fs.PIDKey, strconv.Itoa(os.Getpid())})
	}
	if fs.ProgramKey != "" && len(os.Args) > 0 {
		kv = append(kv, [2]string{fs.ProgramKey, filepath.Base(os.Args[0])})
	}
	if fs.HostnameKey != "" {
		if host, err := os.Hostname(); err == nil {
			kv = append(kv, [2]string{fs.HostnameKey, host})
		}
	}
	return kv
}

// processStart is when the package was initialised: the origin of
// FieldSet.UptimeKey.
var processStart = time.Now()

// fileBase returns the last element of a slash-separated path, as the
// runtime reports caller files on every platform.
func fileBase(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// packagePath returns the package path part of a function name as the
// runtime reports it: "github.com/a/b/pkg.(*T).M.func1" gives
// "github.com/a/b/pkg".
func packagePath(function string) string {
	slash := strings.LastIndexByte(function, '/')
	if dot := strings.IndexByte(function[slash+1:], '.'); dot >= 0 {
		return function[:slash+1+dot]
	}
	return function
}

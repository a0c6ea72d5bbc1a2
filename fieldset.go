package zapsls

import (
	"os"
	"path/filepath"
	"strconv"
)

// FieldSet selects and names the built-in fields that zap's EncoderConfig has
// no key for, in the spirit of the `fields` parameter of the Python SLS SDK's
// QueuedLogHandler. An empty key leaves that field out.
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
	// (requires zap.AddCaller). Default "" (off): CallerKey already carries
	// "file:line"; turn this on to search or group by file.
	FileKey string `json:"fileKey" yaml:"fileKey"`
	// LineKey names the caller's line number as its own content, so it can be
	// indexed as a number. Default "" (off), for the reason above.
	LineKey string `json:"lineKey" yaml:"lineKey"`
	// PIDKey names the process id. Default "pid".
	PIDKey string `json:"pidKey" yaml:"pidKey"`
	// ProgramKey names the program: the base name of os.Args[0].
	// Default "program".
	ProgramKey string `json:"programKey" yaml:"programKey"`
	// HostnameKey names os.Hostname(). Default "hostname".
	HostnameKey string `json:"hostnameKey" yaml:"hostnameKey"`
}

// DefaultFieldSet is what NewEncoder uses without WithFieldSet: the process
// id, program name and hostname, which cost a copy of a few bytes per entry
// and tell apart the instances of a service writing to one logstore.
func DefaultFieldSet() FieldSet {
	return FieldSet{PIDKey: "pid", ProgramKey: "program", HostnameKey: "hostname"}
}

// processValues returns the per-process fields as key/value pairs, in a fixed
// order.
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

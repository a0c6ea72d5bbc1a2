package zapsls

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("zapsls: writer is closed")

// PutLogsError is one batch that SLS did not store: the service's answer,
// or the network error, and how many entries the batch held. It never
// contains credentials.
type PutLogsError struct {
	// Project and Logstore name the batch's destination.
	Project, Logstore string
	Entries           int    // entries in the batch
	Status            int    // HTTP status; 0 for a network error
	Code              string // SLS errorCode, such as SignatureNotMatch
	Message           string // SLS errorMessage, or the network error's text
	RequestID         string // x-log-requestid, for SLS support
	Attempts          int    // attempts made
	// Retryable tells whether the failure was of a kind that is retried
	// (the batch failed because its retry budget ran out) or not (bad
	// credentials, missing project or logstore, invalid body).
	Retryable bool
	// Pending marks a batch still being retried when Sync or Close stopped
	// waiting: this is its last failure so far, not its fate.
	Pending bool

	// Hint says what to change when the failure is a misconfiguration
	// zapsls can recognise: the endpoint speaks the other scheme, its host
	// does not resolve, nothing listens at its port.
	Hint string

	hadToken    bool      // the attempt carried a security token
	badCert     bool      // the endpoint's TLS certificate did not verify
	wrongScheme bool      // HTTP against HTTPS or the reverse
	unreachable bool      // the host does not resolve, or refuses connections
	started     time.Time // when the attempt began
}

func (e *PutLogsError) Error() string {
	var b strings.Builder
	b.WriteString("zapsls: PutLogs")
	if e.Logstore != "" {
		fmt.Fprintf(&b, " to %s/%s", e.Project, e.Logstore)
	}
	fmt.Fprintf(&b, " failed for %d entries", e.Entries)
	if e.Code != "" {
		fmt.Fprintf(&b, ": %s", e.Code)
	}
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d)", e.Status)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.RequestID != "" {
		fmt.Fprintf(&b, " [request id %s]", e.RequestID)
	}
	if e.Hint != "" {
		fmt.Fprintf(&b, " (hint: %s)", e.Hint)
	}
	if e.Attempts > 1 {
		fmt.Fprintf(&b, " after %d attempts", e.Attempts)
	}
	switch {
	case e.Pending:
		b.WriteString(", still retrying")
	case e.Retryable:
		b.WriteString(", retry budget exhausted")
	}
	return b.String()
}

// RetryError is what OnError receives for each failed attempt that will be
// retried: informational, since the batch is not lost (yet). A handler that
// only wants losses can skip it with errors.As.
type RetryError struct {
	Delay time.Duration // until the next attempt
	Err   *PutLogsError // the attempt's failure
}

func (e *RetryError) Error() string {
	return fmt.Sprintf("zapsls: retrying in %v: %s", e.Delay.Round(time.Millisecond), strings.TrimPrefix(e.Err.Error(), "zapsls: "))
}

func (e *RetryError) Unwrap() error { return e.Err }

// DropError reports entries that never entered the buffer.
type DropError struct {
	Entries int
	Reason  string // "buffer full", "writer closed", "entry too large: ...", "invalid entry: ..."
}

func (e *DropError) Error() string {
	return fmt.Sprintf("zapsls: dropped %d entries: %s", e.Entries, e.Reason)
}

// NotDeliveredError is what Sync and Close return when entries written
// before the call were not delivered: how many, and why.
type NotDeliveredError struct {
	// Entries is the number of entries that failed or were dropped, plus,
	// when the call timed out, those still pending.
	Entries int
	// Pending is the number of entries still undecided at the timeout (they
	// may yet be delivered); 0 if the call did not time out.
	Pending int
	// Spooled is the number of the Entries kept in SpoolDir, which the next
	// Writer to open it delivers.
	Spooled int
	// Causes are the distinct reasons, each a *PutLogsError, *DropError or
	// *SpoolError whose Entries sums that reason's entries.
	Causes []error
}

func (e *NotDeliveredError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "zapsls: %d entries not delivered", e.Entries)
	if e.Pending > 0 {
		fmt.Fprintf(&b, " (%d still pending at the timeout)", e.Pending)
	}
	if e.Spooled > 0 {
		fmt.Fprintf(&b, " (%d kept in the spool)", e.Spooled)
	}
	for i, c := range e.Causes {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(strings.TrimPrefix(c.Error(), "zapsls: "))
	}
	return b.String()
}

// Unwrap returns the causes, for errors.As.
func (e *NotDeliveredError) Unwrap() []error { return e.Causes }

// maxCauses bounds NotDeliveredError.Causes; further causes of a kind not
// seen yet are added to the count of the last cause of the same type
// (PutLogsError, DropError or SpoolError), so that the causes still add up
// to the entries. There are at most maxCauses+2 causes.
const maxCauses = 8

// addCause merges err into causes by kind: PutLogsErrors by destination,
// code and status, DropErrors by reason.
func addCause(causes []error, err error) []error {
	for _, c := range causes {
		switch c := c.(type) {
		case *PutLogsError:
			if e, ok := err.(*PutLogsError); ok && sameCause(e, c) {
				c.Entries += e.Entries
				return causes
			}
		case *DropError:
			if e, ok := err.(*DropError); ok && e.Reason == c.Reason {
				c.Entries += e.Entries
				return causes
			}
		case *SpoolError:
			if e, ok := err.(*SpoolError); ok && sameCause(e.Cause, c.Cause) {
				c.Entries += e.Entries
				return causes
			}
		}
	}
	if len(causes) >= maxCauses {
		for i := len(causes) - 1; i >= 0; i-- {
			switch c := causes[i].(type) {
			case *PutLogsError:
				if e, ok := err.(*PutLogsError); ok {
					c.Entries += e.Entries
					return causes
				}
			case *DropError:
				if e, ok := err.(*DropError); ok {
					c.Entries += e.Entries
					return causes
				}
			case *SpoolError:
				if e, ok := err.(*SpoolError); ok {
					c.Entries += e.Entries
					return causes
				}
			}
		}
	}
	switch e := err.(type) {
	case *PutLogsError:
		cp := *e
		err = &cp
	case *DropError:
		cp := *e
		err = &cp
	case *SpoolError:
		cp := *e
		err = &cp
	default:
		if len(causes) >= maxCauses {
			return causes
		}
	}
	return append(causes, err)
}

func causeEntries(err error) int {
	switch e := err.(type) {
	case *PutLogsError:
		return e.Entries
	case *DropError:
		return e.Entries
	case *SpoolError:
		return e.Entries
	}
	return 0
}

// sameCause compares two PutLogsErrors by kind, as addCause merges them.
func sameCause(a, b error) bool {
	x, ok1 := a.(*PutLogsError)
	y, ok2 := b.(*PutLogsError)
	return ok1 && ok2 && x.Code == y.Code && x.Status == y.Status && x.Retryable == y.Retryable && x.Pending == y.Pending &&
		x.Project == y.Project && x.Logstore == y.Logstore
}

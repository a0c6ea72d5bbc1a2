package zapsls

import (
	"go.uber.org/zap/zapcore"
)

// CoreOption configures NewCore.
type CoreOption interface {
	apply(*core)
}

type coreOptionFunc func(*core)

func (f coreOptionFunc) apply(c *core) { f(c) }

// WithDestination sends the core's entries to d instead of the Writer's
// default destination (its Config's Project, Logstore, Topic, Source,
// ShardKey and Processor); d's empty fields keep the Writer's. Every core
// made from it by With keeps d, unless routing fields (Logstore, Topic,
// Source, ShardKey, Route) change it. A destination SLS would refuse (a
// malformed logstore name, say) is reported to the Writer's OnError, and
// the core keeps the Writer's default destination.
func WithDestination(d Destination) CoreOption {
	return coreOptionFunc(func(c *core) { c.dest = d })
}

// NewCore mirrors zapcore.NewCore: it returns a Core that writes entries
// enabled by enab, encoded by enc, to w.
//
// With the zapsls Encoder (NewEncoder), Write encodes straight into a pooled
// buffer and copies the bytes once, into w's buffer: no allocation per
// entry, no JSON. With any other encoder, its output goes through the same
// path as w.Write.
//
// An EncoderOption beyond SLS's limits (WithMaxValueBytes) was brought
// within them by NewEncoder; NewCore reports it through w's OnError, once
// per encoder.
//
// Entries above ErrorLevel (DPanic, Panic, Fatal) are flushed synchronously,
// bounded by the Writer's SyncTimeout, because zap panics or exits right
// after Write without calling Sync.
func NewCore(enc zapcore.Encoder, w *Writer, enab zapcore.LevelEnabler, opts ...CoreOption) zapcore.Core {
	c := &core{LevelEnabler: enab, enc: enc, w: w}
	c.native, _ = enc.(*encoder)
	if c.native != nil && c.native.conf.optionErr != nil && c.native.conf.optionReported.CompareAndSwap(false, true) {
		// NewCore has no error to return: an option the encoder had to
		// bring within SLS's limits is reported once (WithMaxValueBytes).
		w.report(c.native.conf.optionErr)
	}
	for _, o := range opts {
		o.apply(c)
	}
	c.route = w.routeFor(c.dest, w.routes.get(0))
	return c
}

type core struct {
	zapcore.LevelEnabler
	enc    zapcore.Encoder
	native *encoder // enc, when it is ours
	w      *Writer
	dest   Destination // as the user gave it, before the Writer's defaults
	route  *route      // dest, resolved
}

var _ zapcore.Core = (*core)(nil)

// Level reports the minimum enabled level, for zapcore.LevelOf.
func (c *core) Level() zapcore.Level {
	return zapcore.LevelOf(c.LevelEnabler)
}

// With returns a child Core whose entries carry fields. The fields are
// encoded once, here; routing fields among them re-route the child. The
// parent is not changed, and parent and children may be used concurrently.
func (c *core) With(fields []zapcore.Field) zapcore.Core {
	enc := c.enc.Clone()
	for i := range fields {
		fields[i].AddTo(enc)
	}
	child := &core{LevelEnabler: c.LevelEnabler, enc: enc, w: c.w, dest: c.dest, route: c.route}
	child.native, _ = enc.(*encoder)
	if d, ok := applyRouting(c.dest, fields); ok {
		child.dest = d
		child.route = c.w.routeFor(d, c.route)
	}
	return child
}

// Check adds c to ce when the entry's level is enabled.
func (c *core) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

// Write encodes the entry and enqueues it. It returns an error when the
// entry was dropped (buffer full, writer closed, too large); zap reports
// that to its ErrorOutput. Routing fields among fields re-route this entry
// alone. Callers must use Check first, as with every Core.
func (c *core) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	var err error
	if c.native != nil {
		final, frame := c.native.encode(ent, fields)
		err = c.w.enqueue(frame, final.repairs, c.routeOf(fields, final.skipped))
		putEncoder(final)
	} else {
		r := c.routeOf(fields, true)
		buf, encErr := c.enc.EncodeEntry(ent, fields)
		if encErr != nil {
			return encErr
		}
		_, err = c.w.write(buf.Bytes(), r)
		buf.Free()
	}
	if ent.Level > zapcore.ErrorLevel {
		if syncErr := c.w.Sync(); err == nil {
			err = syncErr
		}
	}
	return err
}

// routeOf returns the route of an entry with fields: the core's, unless
// routing fields among them re-route it. skipped is false when the native
// encoder saw no zapcore.SkipType field, and so no routing field.
func (c *core) routeOf(fields []zapcore.Field, skipped bool) *route {
	if skipped {
		if d, ok := applyRouting(c.dest, fields); ok {
			return c.w.routeFor(d, c.route)
		}
	}
	return c.route
}

// Sync delivers everything written so far; see Writer.Sync.
func (c *core) Sync() error {
	return c.w.Sync()
}

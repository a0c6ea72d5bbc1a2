// Package zapsls ships go.uber.org/zap logs straight to Alibaba Cloud Log
// Service (SLS): no file on disk, no agent.
//
// A Core (NewCore) or any zapcore.Core with the zapsls Encoder (NewEncoder)
// encodes each entry directly into SLS LogGroup protobuf bytes and copies
// them once into a Writer's buffer; a Writer (NewWriter) batches,
// compresses, signs and posts them with the PutLogs API from goroutines of
// its own. Importing the package also registers the "sls" encoding and the
// sls:// sink scheme for zap.Config.
//
// The data path, one stage a file:
//
//	encoder.go, frame.go   the caller's goroutine encodes a framed Log
//	writer.go              Writer: Write/enqueue copies it into the buffer
//	internal/ring          the buffer: lock-free, many producers, one consumer
//	batcher.go             one goroutine: drains the buffer into a batch per route
//	batch.go, compress.go  seals a batch: LogGroup tail, pack id, compression
//	poster.go              MaxInflight goroutines: sign, post, classify, retry
//	ledger.go              settles each batch: Stats, spool, OnError, Sync
//	spool.go               keeps undeliverable batches on disk, replays them
//	lifecycle.go           Close: closing, draining, stopped
//
// The promises (Sync means delivered; nothing is lost silently; Fatal and
// Panic entries arrive; batches respect SLS's limits; credentials never
// printed) and the reasons behind each design choice are in DESIGN.md; how
// to use them, in README.md.
//
// Concurrency: every exported method of Writer, Core and the Encoder's
// clones follows zap's rules (a Core and a Writer are safe for concurrent
// use; one Encoder is not). Every goroutine a Writer starts is stopped by
// its Close.
package zapsls

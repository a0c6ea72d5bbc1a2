// Package examples holds the README's examples that need a module zapsls
// itself does not require: log/slog through go.uber.org/zap/exp/zapslog.
// It is a module of its own so that what only these examples use never
// enters the module graph of zapsls's users; .ci/run tests it.
package examples

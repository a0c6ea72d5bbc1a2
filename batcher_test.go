package zapsls

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls/slstest"
)

// The batcher's limits under mixed traffic, whatever its batch sizing
// (batchLimit) decides: several topics and shard keys written from several
// goroutines in bursts and trickles, entries of 100 bytes to 20 KiB, Syncs
// among them. No request exceeds MaxBatchBytes or MaxBatchCount, every
// entry arrives once, and each shard key's entries arrive in order.
func TestBatcherLimitsUnderMixedTraffic(t *testing.T) {
	for _, c := range []struct {
		maxBytes, maxCount int
		linger             time.Duration
	}{
		{64 << 10, 7, 5 * time.Millisecond},
		{200 << 10, 4096, 30 * time.Millisecond},
		{512 << 10, 300, time.Hour},
	} {
		t.Run(strconv.Itoa(c.maxBytes)+"/"+strconv.Itoa(c.maxCount), func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{})
			defer srv.Close()
			w, errs := newTestWriter(t, srv, func(cfg *Config) {
				cfg.MaxBatchBytes, cfg.MaxBatchCount, cfg.Linger = c.maxBytes, c.maxCount, c.linger
				cfg.ShardHashBuckets = 4
			})
			logger := zap.New(NewCore(NewEncoder(testEncoderConfig(), WithFieldSet(FieldSet{})), w, zapcore.DebugLevel))
			const goroutines, each = 4, 600
			var wg sync.WaitGroup
			for g := range goroutines {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 7))
					ordered := logger.With(ShardKey("k"+strconv.Itoa(g)), zap.Int("key", g))
					for i := range each {
						n := 100 + rng.IntN(1<<rng.IntN(15)) // mostly small
						if rng.IntN(3) == 0 {
							n = 100 + rng.IntN(20<<10) // batches end on large ones too
						}
						v := strings.Repeat("v", n)
						switch rng.IntN(3) {
						case 0:
							ordered.Info("o", zap.String("g", "o"+strconv.Itoa(g)), zap.Int("i", i), zap.Int("seq", i), zap.String("v", v))
						case 1:
							logger.Info("t", zap.String("g", "t"+strconv.Itoa(g)), zap.Int("i", i), Topic("t"+strconv.Itoa(i%3)), zap.String("v", v))
						default:
							logger.Info("d", zap.String("g", "d"+strconv.Itoa(g)), zap.Int("i", i), zap.String("v", v))
						}
						switch rng.IntN(200) {
						case 0:
							assert.NoError(t, w.Sync())
						case 1, 2, 3:
							time.Sleep(time.Duration(rng.IntN(60)) * time.Millisecond)
						}
					}
				}()
			}
			wg.Wait()
			require.NoError(t, w.Sync())
			assert.Empty(t, errs.text())
			assert.Len(t, logIDs(t, srv), goroutines*each)
			for _, r := range srv.Requests() {
				assert.LessOrEqual(t, r.RawSize, c.maxBytes)
				assert.LessOrEqual(t, len(r.Group.Logs), c.maxCount)
			}
			next := map[string]int{}
			for _, l := range srv.Logs() {
				if k := l.Contents["key"]; k != "" {
					seq, err := strconv.Atoi(l.Contents["seq"])
					require.NoError(t, err)
					require.GreaterOrEqual(t, seq, next[k], "key %s: in order", k)
					next[k] = seq + 1
				}
			}
		})
	}
}

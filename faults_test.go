package zapsls

// The fault suite: a steady stream from a few goroutines while slstest
// injects a fault, then Sync and Close; every entry is accounted for. Set
// ZAPSLS_RELIABILITY_TABLE to a path to get the results as a markdown table.
// Its shared fixtures (relReports, relZapErrors, relLogger, ...) are in
// common_test.go.

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

const (
	relGoroutines = 4
	relInterval   = 4 * time.Millisecond // per goroutine: about 1000 entries/s in all
	relWarmup     = 300 * time.Millisecond
)

var relPad = strings.Repeat("p", 60)

// relFaultRun is one run's fault: the server options, Config changes, and
// how to start and end the fault.
type relFaultRun struct {
	opts   slstest.Options
	config func(*Config)
	inject func(*slstest.Server)
	clear  func(*slstest.Server)
}

type relFault struct {
	name   string
	logFor time.Duration // how long the stream runs once the fault starts
	setup  func() relFaultRun
	// lostAcks: the fault can lose the answer to a request the server
	// stored, so the retry duplicates its entries. Elsewhere duplicates
	// must be 0.
	lostAcks bool
}

var relFaults = []relFault{
	{
		name:   "endpoint refuses connections for 10 s",
		logFor: 10*time.Second + 500*time.Millisecond,
		// Going away, slstest closes the connections it sees idle; one
		// whose request it has just read (net/http marks it active only
		// afterwards) is stored and its answer lost, as with a real
		// server going away mid-request.
		lostAcks: true,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) { srv.RefuseFor(10 * time.Second) },
				clear:  func(srv *slstest.Server) { srv.AcceptConnections() },
			}
		},
	},
	{
		name:   "30% random HTTP 500 for 5 s",
		logFor: 5 * time.Second,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) {
					srv.FailRate(0.3, slstest.Fault{Status: 500, Code: "InternalServerError"}, 1)
				},
				clear: func(srv *slstest.Server) { srv.FailRate(0, slstest.Fault{}, 0) },
			}
		},
	},
	{
		name:   "403 WriteQuotaExceed for 5 s",
		logFor: 5*time.Second + 500*time.Millisecond,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) {
					srv.FailFor(5*time.Second, slstest.Fault{Status: 403, Code: "WriteQuotaExceed"})
				},
			}
		},
	},
	{
		name:   "2 s response delay for 5 s",
		logFor: 5 * time.Second,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) { srv.SetDelay(2 * time.Second) },
				clear:  func(srv *slstest.Server) { srv.SetDelay(0) },
			}
		},
	},
	{
		name:   "20% connections closed mid-request for 5 s",
		logFor: 5 * time.Second,
		setup: func() relFaultRun {
			return relFaultRun{
				inject: func(srv *slstest.Server) {
					srv.FailRate(0.2, slstest.Fault{CloseConnection: true}, 2)
				},
				clear: func(srv *slstest.Server) { srv.FailRate(0, slstest.Fault{}, 0) },
			}
		},
	},
	{
		name:   "401 after STS token expiry, provider refreshes 250 ms later",
		logFor: 3 * time.Second,
		setup: func() relFaultRun {
			p := &tokenProvider{}
			p.token.Store("sts-token-1")
			return relFaultRun{
				opts: slstest.Options{SecurityToken: "sts-token-1"},
				config: func(c *Config) {
					c.Credentials = p
					c.AccessKeyID, c.AccessKeySecret = "", ""
				},
				inject: func(srv *slstest.Server) {
					srv.SetCredentials(slstest.DefaultAccessKeyID, slstest.DefaultAccessKeySecret, "sts-token-2")
					time.AfterFunc(250*time.Millisecond, func() { p.token.Store("sts-token-2") })
				},
			}
		},
	},
}

// relPolicies are the two configurations every fault runs under.
var relPolicies = []struct {
	name   string
	config func(c *Config, dir string)
}{
	{"block", func(c *Config, _ string) {
		// Room and patience to outlast every fault: nothing may be lost.
		c.BufferBytes = 8 << 20
		c.OnFull = OnFullBlock
		c.BlockTimeout = time.Minute
		c.RetryTimeout = time.Minute
		c.SyncTimeout = time.Minute
		c.CloseTimeout = time.Minute
	}},
	{"drop", func(c *Config, dir string) {
		// A small buffer, one request at a time, a short retry budget and
		// a spool: entries are dropped, spooled, and each one accounted.
		c.BufferBytes = 128 << 10
		c.MaxBatchBytes = 64 << 10
		c.OnFull = OnFullDrop
		c.MaxInflight = 1
		c.RetryTimeout = 2 * time.Second
		c.SpoolDir = dir
		c.SyncTimeout = 30 * time.Second
		c.CloseTimeout = 30 * time.Second
	}},
}

type relRow struct {
	fault, policy                         string
	written, delivered, dropped, failed   int
	spooled, replayed, duplicated, unique int
	retries, requests                     int
	elapsed                               time.Duration
	promise                               string
}

func (r relRow) summary() string {
	return fmt.Sprintf("%s [%s]: written=%d delivered=%d dropped=%d failed=%d spooled=%d replayed=%d duplicated=%d server-unique=%d retries=%d requests=%d in %v",
		r.fault, r.policy, r.written, r.delivered, r.dropped, r.failed, r.spooled, r.replayed, r.duplicated, r.unique,
		r.retries, r.requests, r.elapsed.Round(100*time.Millisecond))
}

func TestReliabilityFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("the fault suite takes about 20 s")
	}
	var mu sync.Mutex
	rows := map[string]relRow{}
	// All runs at once, each with its own server and writer: the suite
	// takes as long as the longest fault. (t.Run from several goroutines,
	// rather than t.Parallel, which -test.parallel would limit to
	// GOMAXPROCS runs at a time; these runs mostly wait.)
	var wg sync.WaitGroup
	for _, f := range relFaults {
		for _, p := range relPolicies {
			wg.Add(1)
			go func() {
				defer wg.Done()
				t.Run(f.name+"/"+p.name, func(t *testing.T) {
					row := relRunFault(t, f, p.name, p.config)
					t.Log(row.summary())
					mu.Lock()
					rows[f.name+"/"+p.name] = row
					mu.Unlock()
				})
			}()
		}
	}
	wg.Wait()

	var table strings.Builder
	table.WriteString("| fault | written | delivered | lost | duplicated | spooled | promise |\n")
	table.WriteString("|---|---:|---:|---:|---:|---:|---|\n")
	for _, f := range relFaults {
		for _, p := range relPolicies {
			r, ok := rows[f.name+"/"+p.name]
			if !ok {
				continue
			}
			fmt.Fprintf(&table, "| %s (%s) | %d | %d | %d | %d | %d | %s |\n",
				r.fault, r.policy, r.written, r.delivered, r.dropped+r.failed, r.duplicated, r.spooled, r.promise)
		}
	}
	t.Logf("reliability table:\n%s", table.String())
	if path := os.Getenv("ZAPSLS_RELIABILITY_TABLE"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(table.String()), 0o644))
	}
}

// relRunFault logs a steady stream through one Writer while f happens, then
// Syncs and Closes it and checks the accounting.
func relRunFault(t *testing.T, f relFault, policy string, policyConfig func(*Config, string)) relRow {
	began := time.Now()
	run := f.setup()
	srv := slstest.NewServer(run.opts)
	defer srv.Close()
	dir := t.TempDir()
	reports := &relReports{}
	zapErrs := &relZapErrors{}
	config := func(c *Config) {
		policyConfig(c, dir)
		if run.config != nil {
			run.config(c)
		}
	}
	cfg := testConfig(srv)
	config(&cfg)
	cfg.OnError = reports.add
	w, err := NewWriter(cfg)
	require.NoError(t, err)
	closed := false
	defer func() {
		if !closed {
			_ = w.Close()
		}
	}()
	logger := relLogger(w, zapErrs)

	stop := make(chan struct{})
	var written [relGoroutines]int
	var wg sync.WaitGroup
	for g := 0; g < relGoroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			tick := time.NewTicker(relInterval)
			defer tick.Stop()
			l := logger.With(zap.Int("g", g))
			n := 0
			for {
				select {
				case <-stop:
					written[g] = n
					return
				case <-tick.C:
				}
				l.Info("reliability", zap.Int("i", n), zap.String("pad", relPad))
				n++
			}
		}(g)
	}
	time.Sleep(relWarmup)
	run.inject(srv)
	time.Sleep(f.logFor)
	close(stop)
	wg.Wait()
	if run.clear != nil {
		run.clear(srv)
	}
	syncErr := logger.Sync()
	closeErr := w.Close()
	closed = true

	s := w.Stats()
	ids, dups := relIDs(srv)
	total := 0
	for _, n := range written {
		total += n
	}
	row := relRow{
		fault: f.name, policy: policy, written: total,
		delivered: int(s.Delivered), dropped: int(s.Dropped), failed: int(s.Failed), spooled: int(s.Spooled),
		duplicated: dups, unique: len(ids), retries: int(s.Retries), requests: int(s.Requests),
	}
	// Every id at the server was written. Duplicates only come from a
	// stored batch retried after its answer was lost; slstest stores no
	// request it then fails (CloseConnection drops the request unstored,
	// delays end before the 15 s RequestTimeout), so only a fault marked
	// lostAcks may cause them.
	for id := range ids {
		g, i, ok := strings.Cut(id, "-")
		gi, err1 := strconv.Atoi(g)
		ii, err2 := strconv.Atoi(i)
		require.True(t, ok && err1 == nil && err2 == nil && gi >= 0 && gi < relGoroutines && ii >= 0 && ii < written[gi], "unexpected id %q", id)
	}
	dupBatches := relCheckDuplicates(t, srv)
	if !f.lostAcks {
		assert.Zero(t, dups, "duplicates")
	} else if dups > 0 {
		t.Logf("%d entries duplicated: %d batches stored twice, each retried whole under its __pack_id__ after its answer was lost", dups, dupBatches)
	}
	assert.Equal(t, uint64(total), s.Enqueued+s.Dropped, "every Write is enqueued or dropped")
	if !f.lostAcks {
		assert.Equal(t, len(ids), int(s.Delivered), "the server holds exactly what the writer counts as delivered")
	} else {
		// A batch whose answer was lost and whose retries then ran out is
		// counted failed or spooled, though the server has it.
		assert.GreaterOrEqual(t, len(ids), int(s.Delivered), "the server holds everything delivered")
		assert.LessOrEqual(t, len(ids), int(s.Delivered+s.Failed+s.Spooled), "and beyond it only entries whose answer was lost")
	}

	// Nothing is lost silently: every loss was reported through OnError,
	// through zap's ErrorOutput (drops), and through Sync or Close.
	rDropped, rFailed, rSpooled, _ := reports.snapshot()
	assert.Equal(t, int(s.Dropped), rDropped, "drops reported through OnError")
	assert.Equal(t, int(s.Failed), rFailed, "failures reported through OnError")
	assert.Equal(t, int(s.Spooled), rSpooled, "spooled entries reported through OnError")
	assert.Equal(t, int(s.Dropped), zapErrs.count(), "zap's ErrorOutput saw every dropped entry")
	syncEntries, syncSpooled := relNotDelivered(t, syncErr)
	closeEntries, closeSpooled := relNotDelivered(t, closeErr)
	assert.Equal(t, int(s.Dropped+s.Failed+s.Spooled), syncEntries+closeEntries, "Sync and Close said how many: %v / %v", syncErr, closeErr)
	assert.Equal(t, int(s.Spooled), syncSpooled+closeSpooled)

	switch policy {
	case "block":
		// Nothing may be lost.
		row.promise = "nothing lost: delivered = written"
		assert.NoError(t, syncErr)
		assert.NoError(t, closeErr)
		assert.Equal(t, total, int(s.Delivered), "delivered == written")
		assert.Zero(t, s.Dropped+s.Failed+s.Spooled)
		for g, n := range written {
			for i := 0; i < n; i++ {
				if ids[fmt.Sprintf("%d-%d", g, i)] == 0 {
					t.Errorf("entry %d-%d lost", g, i)
					break
				}
			}
		}
	case "drop":
		// Exact accounting, and the spool delivers what it kept.
		assert.Equal(t, total, int(s.Delivered+s.Dropped+s.Failed+s.Spooled), "delivered+dropped+failed+spooled == written")
		kept := 0
		for _, name := range spoolFiles(t, dir) {
			kept += entriesIn(filepath.Base(name))
		}
		assert.Equal(t, int(s.Spooled), kept, "the spool files hold every spooled entry")
		if kept > 0 {
			srv.ClearFaults()
			cfg := testConfig(srv)
			config(&cfg)
			cfg.OnError = reports.add
			w2, err := NewWriter(cfg)
			require.NoError(t, err)
			assert.True(t, srv.WaitLogs(int(s.Delivered)+kept, 30*time.Second), "the spool is replayed")
			require.NoError(t, w2.Close())
			row.replayed = int(w2.Stats().Replayed)
			assert.Equal(t, kept, row.replayed, "Stats.Replayed")
			assert.Empty(t, spoolFiles(t, dir))
			ids2, dups2 := relIDs(srv)
			relCheckDuplicates(t, srv)
			if !f.lostAcks {
				assert.Zero(t, dups2, "duplicates after replay")
			}
			assert.Equal(t, int(s.Delivered)+kept, len(ids2))
			row.duplicated = dups2
		}
		row.promise = "every entry accounted for and reported: delivered + dropped + failed + spooled = written"
		if s.Spooled > 0 {
			row.promise += fmt.Sprintf("; next writer replayed %d/%d from the spool", row.replayed, s.Spooled)
		}
	}
	if row.duplicated > 0 {
		row.promise += "; duplicates are whole batches retried after a lost answer (same __pack_id__)"
	}
	row.elapsed = time.Since(began)
	return row
}

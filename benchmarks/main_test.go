package main

import (
	"strconv"
	"testing"
	"time"

	"github.com/aliyun/aliyun-log-go-sdk/producer"
	kitlog "github.com/go-kit/kit/log"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zapsls/zapsls/slstest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// TestEveryContenderDelivers runs each contender as -contender does, with
// its slstest server in this process: every entry must arrive.
//
// 200 entries of 550 bytes are one batch of the SDK producer: two of its
// IO workers sending at once race inside the SDK v0.1.127
// (Client.initHttpClient writes the client's fields on every request,
// client.go:125), which -race reports.
func TestEveryContenderDelivers(t *testing.T) {
	const n = 200
	for _, name := range contenders {
		t.Run(name, func(t *testing.T) {
			r := measure(options{contender: name, n: n, goroutines: 4, size: 550, dir: t.TempDir()})
			require.Empty(t, r.Error)
			require.Zero(t, r.Lost)
			require.Equal(t, n, r.N)
			require.Positive(t, r.EntriesPerSec)
		})
	}
}

// TestSteadyScenarioDelivers runs the memory scenario's steady child as
// -scenario steady does, briefly, with its slstest server in this process:
// every entry must arrive at every destination, and the memory figures
// must be read. The SDK producer gets one logstore: with two, two of its IO
// workers send at once, which races inside the SDK (see above).
func TestSteadyScenarioDelivers(t *testing.T) {
	for _, name := range contenders {
		t.Run(name, func(t *testing.T) {
			writers := 2
			if name == contenderSDK {
				writers = 1
			}
			r := measureSteady(options{contender: name, writers: writers, rate: 1000,
				duration: 200 * time.Millisecond, size: 550, dir: t.TempDir()})
			require.Empty(t, r.Error)
			require.Zero(t, r.Lost)
			require.Equal(t, 200, r.N, "1,000 entries/s for 200 ms")
			require.Equal(t, writers, r.Writers)
			if currentRSS() > 0 { // Linux
				require.Positive(t, r.BaseRSS)
				require.GreaterOrEqual(t, r.PeakRSS, r.BaseRSS)
				require.Positive(t, r.ConstructedRSS)
			}
		})
	}
}

// BenchmarkContender measures each contender as -contender does, with its
// slstest server in this process (whose CPU time and allocations count as
// the contender's); run with a fixed -benchtime=Nx, since the SDK producer
// cannot flush and waits for its 2s linger at the end. The tool's -all
// measures each in fresh processes instead.
func BenchmarkContender(b *testing.B) {
	for _, name := range contenders {
		b.Run(name, func(b *testing.B) {
			r := measure(options{contender: name, n: b.N, goroutines: 4, size: 550, dir: b.TempDir()})
			if r.Error != "" {
				b.Fatal(r.Error)
			}
			b.ReportMetric(r.EntriesPerSec, "entries/s")
			b.ReportMetric(r.CPUNsPerEntry, "cpu-ns/entry")
			b.ReportMetric(r.AllocsPerEntry, "allocs/entry")
		})
	}
}

// TestSlstestServesSDKProducer: slstest accepts what the SDK producer
// sends (lz4 bodies, pack ids as the __pack_id__ tag). It lives here, with
// the producer, so that the main module does not require what the producer
// needs (go-kit).
func TestSlstestServesSDKProducer(t *testing.T) {
	const project, logstore = "test-project", "test-logstore"
	s := slstest.NewServer(slstest.Options{})
	defer s.Close()
	cfg := producer.GetDefaultProducerConfig()
	cfg.Endpoint = s.Endpoint()
	cfg.AccessKeyID = slstest.DefaultAccessKeyID
	cfg.AccessKeySecret = slstest.DefaultAccessKeySecret
	cfg.HTTPClient = s.Client()
	cfg.GeneratePackId = true
	cfg.LingerMs = 100
	cfg.Logger = kitlog.NewNopLogger()
	cfg.DisableRuntimeMetrics = true
	p, err := producer.NewProducer(cfg)
	require.NoError(t, err)
	p.Start()
	now := uint32(time.Now().Unix())
	for i := range 5 {
		require.NoError(t, p.SendLog(project, logstore, "topic", "src",
			producer.GenerateLog(now, map[string]string{"i": strconv.Itoa(i)})))
	}
	p.SafeClose()

	require.True(t, s.WaitLogs(5, 5*time.Second))
	seen := map[string]bool{}
	for _, l := range s.Logs() {
		require.Regexp(t, `^[0-9A-F]{16}-[0-9A-F]+$`, l.PackID)
		require.Equal(t, l.PackID, l.Tags["__pack_id__"])
		seen[l.Contents["i"]] = true
	}
	require.Len(t, seen, 5)
	for _, r := range s.Requests() {
		require.Equal(t, "lz4", r.Compression)
		require.NotEmpty(t, r.PackID)
	}
}

// TestLatencyScenarioDelivers runs the latency scenario's child as
// -scenario latency does, briefly, with its slstest server in this
// process: every entry (warm-up, timed window and allocation check) must
// arrive, every call of the timed window must be timed, and the
// percentiles must be in order.
func TestLatencyScenarioDelivers(t *testing.T) {
	for _, name := range contenders {
		t.Run(name, func(t *testing.T) {
			r := measureLatency(options{contender: name, goroutines: 4, rate: 400,
				duration: 200 * time.Millisecond, warmup: 50 * time.Millisecond, size: 550, dir: t.TempDir(),
				faults: threadUsageWorks})
			require.Empty(t, r.Error)
			require.Zero(t, r.Lost)
			l := r.Latency
			require.NotNil(t, l)
			require.Equal(t, 80, l.Timed, "400 entries/s for 200 ms")
			require.Equal(t, 20, l.Warmup, "400 entries/s for 50 ms")
			require.Equal(t, l.Warmup+l.Timed+l.AllocChecked, r.N)
			require.Positive(t, l.P50Ns)
			require.LessOrEqual(t, l.P50Ns, l.P90Ns)
			require.LessOrEqual(t, l.P90Ns, l.P99Ns)
			require.LessOrEqual(t, l.P99Ns, l.P999Ns)
			require.LessOrEqual(t, l.P999Ns, l.MaxNs)
			require.Equal(t, float64(l.MaxNs)/1e3, l.Slowest[0].LatencyUs)
			if threadUsageWorks {
				require.NotNil(t, l.Usage)
				require.LessOrEqual(t, l.Usage.FaultCalls+l.Usage.SwitchCalls, l.Timed)
				top := l.Usage.Slowest1
				require.LessOrEqual(t, top[0]+top[1]+top[2], l.Timed/100, "the calls above the p99: at most 1%")
			}
		})
	}
}

// TestPercentile: the p-th percentile is the smallest value that at least
// a fraction p of the values do not exceed.
func TestPercentile(t *testing.T) {
	v := make([]int64, 1000)
	for i := range v {
		v[i] = int64(i + 1)
	}
	require.Equal(t, int64(500), percentile(v, 0.5))
	require.Equal(t, int64(990), percentile(v, 0.99))
	require.Equal(t, int64(999), percentile(v, 0.999))
	require.Equal(t, int64(1000), percentile(v, 1))
	require.Equal(t, int64(1), percentile(v[:1], 0.999))
	require.Equal(t, int64(2), percentile(v[:2], 0.5001), "above half of two values: the second")
	require.Zero(t, percentile(nil, 0.5))
}

// TestLatencyRecordCountsOnlyTimedCalls: calls never made (a goroutine
// that logged fewer than its room) are not counted as 0 µs.
func TestLatencyRecordCountsOnlyTimedCalls(t *testing.T) {
	rec := newLatencyRecord(2, 3, false)
	rec.lat[0][0], rec.at[0][0] = 1000, 0
	rec.lat[0][1], rec.at[0][1] = 3000, 10
	rec.lat[1][0], rec.at[1][0] = 2000, 5
	s := summarizeLatency(rec, 2)
	require.Equal(t, int64(2000), s.P50)
	require.Equal(t, int64(3000), s.Max)
	require.InDelta(t, 2000, s.Mean, 1e-9)
	require.Equal(t, []slowCall{{AtMs: 10e-6, Goroutine: 0, LatencyUs: 3}, {AtMs: 5e-6, Goroutine: 1, LatencyUs: 2}}, s.Slowest)
}

// TestPickContenders: -contenders names some contenders, listed in the
// tables' order; an unknown name is refused, naming it.
func TestPickContenders(t *testing.T) {
	got, err := pickContenders("zap-file, zapsls")
	require.NoError(t, err)
	require.Equal(t, []string{contenderZapsls, contenderFile}, got)
	_, err = pickContenders("zapsls,zap")
	require.ErrorContains(t, err, `"zap"`)
}

// TestLatencyUsageSplitsTheSlowestCalls: with -faults, the calls slower
// than the p99 and the p99.9 are split into faulted, switched out without
// a fault, and neither; calls never made count in none.
func TestLatencyUsageSplitsTheSlowestCalls(t *testing.T) {
	rec := newLatencyRecord(1, 2000, true)
	for i := 0; i < 1000; i++ {
		rec.lat[0][i], rec.at[0][i], rec.faults[0][i], rec.switches[0][i] = int64(1000+i), int64(i), 0, 0
	}
	// The ten slowest: 999 below; four faulted (one switched out too),
	// three switched out, three neither.
	for i, kind := range []int{callFaulted, callSwitched, callNeither, callFaulted, callSwitched, callNeither, callFaulted, callSwitched, callNeither, callFaulted} {
		rec.lat[0][990+i] = int64(10_000 + i)
		switch kind {
		case callFaulted:
			rec.faults[0][990+i] = int32(1 + i%2)
			rec.switches[0][990+i] = int32(i % 2)
		case callSwitched:
			rec.switches[0][990+i] = 1
		}
	}
	s := summarizeLatency(rec, 1)
	require.NotNil(t, s.Usage)
	require.Equal(t, int64(1989), s.P99)
	require.Equal(t, 4, s.Usage.FaultCalls)
	require.Equal(t, 3, s.Usage.SwitchCalls)
	require.Equal(t, [3]int{4, 3, 3}, s.Usage.Slowest1, "the ten calls above the p99")
	require.Equal(t, [3]int{1, 0, 0}, s.Usage.Slowest01, "the one call above the p99.9: the last, faulted")
	require.Equal(t, int64(1983), s.Usage.NeitherP99Ns, "of 993 calls with neither, the 984th fastest")

	require.Nil(t, summarizeLatency(newLatencyRecord(1, 10, false), 1).Usage)
}

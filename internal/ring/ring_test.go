package ring

import (
	"bytes"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func drainAll(r *Ring) [][]byte {
	var out [][]byte
	r.Drain(func(_ uint64, a, b []byte) bool {
		out = append(out, append(append([]byte(nil), a...), b...))
		return true
	})
	return out
}

func TestRingOrderAndWrap(t *testing.T) {
	r := New(4096)
	require.Equal(t, 4096, r.Cap())
	// Records of varying sizes, many laps around the ring.
	var want [][]byte
	for lap := 0; lap < 200; lap++ {
		for i := 1; i <= 5; i++ {
			p := bytes.Repeat([]byte{byte(lap + i)}, (lap*37+i*101)%900+1)
			_, ok := r.TryWrite(p)
			require.True(t, ok)
			want = append(want, p)
		}
		got := drainAll(r)
		require.Equal(t, want, got)
		want = want[:0]
		require.Zero(t, r.Used())
	}
}

func TestRingFullAndRelease(t *testing.T) {
	r := New(4096)
	p := make([]byte, 1000) // 1008 bytes a record
	for i := 0; i < 4; i++ {
		_, ok := r.TryWrite(p)
		require.True(t, ok, "record %d", i)
	}
	_, ok := r.TryWrite(p)
	assert.False(t, ok, "the fifth record does not fit")

	// Stop after the first record: only it is released.
	n := 0
	r.Drain(func(_ uint64, a, b []byte) bool { n++; return n == 1 })
	_, ok = r.TryWrite(p)
	assert.True(t, ok, "space released by Drain is reusable")
	assert.Equal(t, r.MaxRecord(), 4096-8)
}

func TestRingUncommittedStopsDrain(t *testing.T) {
	r := New(4096)
	// Reserve by hand without committing, then write a committed record
	// after it: Drain must not skip the gap.
	r.head.Add(recordSize(10))
	_, ok := r.TryWrite([]byte("after"))
	require.True(t, ok)
	assert.False(t, r.Committed())
	assert.Empty(t, drainAll(r))
}

func TestRingBlockingWrite(t *testing.T) {
	r := New(4096)
	p := make([]byte, 2000)
	_, ok := r.TryWrite(p)
	require.True(t, ok)
	_, ok = r.TryWrite(p)
	require.True(t, ok)

	// Times out while nobody drains.
	_, ok = r.Write(p, 20*time.Millisecond)
	assert.False(t, ok)

	// A consumer lingering with a high threshold is woken by the blocked
	// writer, and the writer succeeds once the consumer releases space.
	require.True(t, r.ArmWake(1<<40))
	done := make(chan bool)
	go func() {
		_, ok := r.Write(p, 5*time.Second)
		done <- ok
	}()
	select {
	case <-r.Wakeup():
	case <-time.After(5 * time.Second):
		t.Fatal("a blocked writer must wake the consumer")
	}
	drainAll(r)
	assert.True(t, <-done)

	// Close releases a blocked writer.
	r.TryWrite(p)
	go func() {
		_, ok := r.Write(make([]byte, 3000), 5*time.Second)
		done <- ok
	}()
	time.Sleep(10 * time.Millisecond)
	r.Close()
	assert.False(t, <-done)
}

func TestRingWakeThreshold(t *testing.T) {
	r := New(1 << 16)
	require.True(t, r.ArmWake(0))
	r.TryWrite([]byte("x"))
	select {
	case <-r.Wakeup():
	default:
		t.Fatal("first record after ArmWake(0) rings")
	}
	drainAll(r)
	require.True(t, r.ArmWake(1000))
	r.TryWrite(make([]byte, 100))
	select {
	case <-r.Wakeup():
		t.Fatal("below the threshold: no ring")
	default:
	}
	r.TryWrite(make([]byte, 1000))
	select {
	case <-r.Wakeup():
	default:
		t.Fatal("above the threshold: ring")
	}
	assert.False(t, r.ArmWake(0), "committed data: do not wait")
}

// TestRingConcurrent checks, under -race, that every record of many
// producers arrives exactly once and intact, in each producer's order.
func TestRingConcurrent(t *testing.T) {
	const producers, perProducer = 8, 20000
	r := New(1 << 14)
	var wg sync.WaitGroup
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			buf := make([]byte, 64)
			for i := 0; i < perProducer; i++ {
				n := 16 + (i*7+p)%48
				binary.LittleEndian.PutUint32(buf, uint32(p))
				binary.LittleEndian.PutUint32(buf[4:], uint32(i))
				for j := 8; j < n; j++ {
					buf[j] = byte(i + j)
				}
				_, ok := r.Write(buf[:n], 10*time.Second)
				if !ok {
					t.Errorf("producer %d: write %d timed out", p, i)
					return
				}
			}
		}(p)
	}
	next := make([]int, producers)
	total := 0
	for total < producers*perProducer {
		if r.ArmWake(0) {
			select {
			case <-r.Wakeup():
			case <-time.After(10 * time.Second):
				t.Fatal("consumer starved")
			}
		}
		r.Drain(func(_ uint64, a, b []byte) bool {
			rec := append(append([]byte(nil), a...), b...)
			p := binary.LittleEndian.Uint32(rec)
			i := int(binary.LittleEndian.Uint32(rec[4:]))
			if i != next[p] {
				t.Fatalf("producer %d: got record %d, want %d", p, i, next[p])
			}
			for j := 8; j < len(rec); j++ {
				if rec[j] != byte(i+j) {
					t.Fatalf("producer %d record %d: corrupt byte %d", p, i, j)
				}
			}
			next[p]++
			total++
			return true
		})
	}
	wg.Wait()
	assert.Zero(t, r.Used())
}

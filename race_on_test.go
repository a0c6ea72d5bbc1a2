//go:build race

package zapsls

// raceEnabled is true under -race, where sync.Pool drops items on purpose,
// so allocation counts say nothing.
const raceEnabled = true

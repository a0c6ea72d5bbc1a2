//go:build !race

package zapsls

const raceEnabled = false

package zapsls

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSpoolLockIsExclusive: one Writer at a time may replay a spool
// directory; the lock is free again once released.
func TestSpoolLockIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".lock")
	first, err := lockDir(path)
	require.NoError(t, err)
	_, err = lockDir(path)
	require.ErrorIs(t, err, errLocked)
	unlockDir(first)
	second, err := lockDir(path)
	require.NoError(t, err)
	unlockDir(second)
}

package zapsls

import (
	"errors"

	"github.com/gofrs/flock"
)

var errLocked = errors.New("spool directory locked by another writer")

// lockDir takes an exclusive lock on path, without waiting, through
// github.com/gofrs/flock: flock(2) on Unix, LockFileEx on Windows. The
// operating system releases it if the process dies, so a crash never
// leaves the spool locked. errLocked means another Writer holds it.
func lockDir(path string) (*flock.Flock, error) {
	l := flock.New(path)
	ok, err := l.TryLock()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errLocked
	}
	return l, nil
}

func unlockDir(l *flock.Flock) { _ = l.Unlock() }

//go:build !unix

package zapsls

import (
	"errors"
	"os"
)

var errLocked = errors.New("spool directory locked by another writer")

// lockDir: without flock, SpoolDir is refused rather than risk two
// processes replaying the same file.
func lockDir(string) (*os.File, error) {
	return nil, errors.New("SpoolDir needs flock, available on Unix systems only")
}

func unlockDir(*os.File) {}

package zapsls

import (
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.uber.org/zap/zapcore"
)

// readmeRegions returns the README regions of the example files: the lines
// between "// README:begin" and "// README:end", without the begin line's
// indentation, where a line ending in "// README: TEXT" reads TEXT (at the
// line's own indentation). See readme_example_test.go.
func readmeRegions(t *testing.T) map[string]string {
	t.Helper()
	files, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob(filepath.Join("examples", "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]string{} // region text -> where it is
	for _, file := range append(files, more...) {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var region []string
		indent, start := "", 0
		inside := false
		for i, line := range strings.Split(string(b), "\n") {
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "// README:begin":
				inside, region, start = true, nil, i+1
				indent = line[:len(line)-len(strings.TrimLeft(line, " \t"))]
			case trimmed == "// README:end":
				if !inside {
					t.Fatalf("%s:%d: README:end without README:begin", file, i+1)
				}
				inside = false
				regions[strings.Join(region, "\n")] = file + ":" + strconv.Itoa(start)
			case inside:
				line = strings.TrimPrefix(line, indent)
				if code, shown, ok := strings.Cut(line, " // README: "); ok {
					line = code[:len(code)-len(strings.TrimLeft(code, " \t"))] + shown
				}
				region = append(region, line)
			}
		}
		if inside {
			t.Fatalf("%s: README:begin without README:end", file)
		}
	}
	return regions
}

// readmeGoBlocks returns the ```go blocks of README.md with their first
// line numbers.
func readmeGoBlocks(t *testing.T) map[int]string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := map[int]string{}
	var block []string
	start := 0
	for i, line := range strings.Split(string(b), "\n") {
		switch {
		case start == 0 && strings.TrimSpace(line) == "```go":
			start, block = i+2, nil
		case start != 0 && strings.TrimSpace(line) == "```":
			blocks[start] = strings.Join(block, "\n")
			start = 0
		case start != 0:
			block = append(block, line)
		}
	}
	return blocks
}

// TestREADMECodeIsCompiled: every ```go block of README.md is the README
// region of an example that go test compiles and runs (with its Output
// checked), so the README cannot teach code that does not build or fails.
func TestREADMECodeIsCompiled(t *testing.T) {
	regions := readmeRegions(t)
	blocks := readmeGoBlocks(t)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block")
	}
	for line, block := range blocks {
		if _, ok := regions[block]; !ok {
			t.Errorf("README.md:%d: this ```go block is no example's README region:\n%s\n\nregions:\n%s",
				line, block, strings.Join(keys(regions), "\n-----\n"))
		}
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k, where := range m {
		out = append(out, where+":\n"+k)
	}
	return out
}

// TestConsoleSyncOnAPipe is why the Quickstart wraps os.Stderr: an
// *os.File's Sync fails on a pipe (and a terminal), zapcore.AddSync
// returns the file itself, and only hiding its Sync makes logger.Sync
// report what SLS did.
func TestConsoleSyncOnAPipe(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := zapcore.Lock(w).Sync(); err == nil {
		t.Error("zapcore.Lock(pipe).Sync() = nil, want an error")
	}
	if err := zapcore.Lock(zapcore.AddSync(w)).Sync(); err == nil {
		t.Error("zapcore.Lock(zapcore.AddSync(pipe)).Sync() = nil, want an error: AddSync keeps the file's Sync")
	}
	if err := zapcore.Lock(zapcore.AddSync(struct{ io.Writer }{w})).Sync(); err != nil {
		t.Errorf("with the file's Sync hidden: %v", err)
	}
}

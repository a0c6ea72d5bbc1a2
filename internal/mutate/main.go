// Command mutate plants hand-written mutants in a copy of the repository,
// one at a time, runs the tests against each, and prints which test killed
// it. Run it from the repository root as scripts/mutate (see README.md,
// Development):
//
//	scripts/mutate                 # every mutant in internal/mutate/mutants.txt
//	scripts/mutate -only 'spool'   # the mutants whose name matches
//	scripts/mutate -check          # only check that every mutant still applies
//	scripts/mutate -failfast       # stop each run at the first test that fails
//
// A mutant is (files, exact original text, replacement), written in
// mutants.txt. The original text must occur exactly once in the files the
// glob matches: a mutant whose text moved or changed makes the run fail at
// once, before any test runs, so a stale list is noticed, never skipped.
//
// The repository is copied (tracked and untracked files, not ignored ones)
// into a temporary directory; the working tree is never modified. A mutant
// is killed when `go test` fails with it planted; one that does not compile
// counts as not applicable and fails the run, since it tests nothing.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"
)

// mutant is one planted bug.
type mutant struct {
	name, why  string
	glob       string   // files the original text is looked for in, relative to the root
	pkgs       []string // packages to test; default "."
	orig, repl string
	line       int // in mutants.txt
}

// result is what the tests made of one mutant.
type result struct {
	m       mutant
	file    string
	killed  bool
	broken  bool     // did not compile
	by      []string // failing tests, top level first
	elapsed time.Duration
	output  string
}

func main() {
	list := flag.String("mutants", "internal/mutate/mutants.txt", "the mutant list")
	only := flag.String("only", "", "run only the mutants whose name matches this regular expression")
	check := flag.Bool("check", false, "only check that every mutant applies exactly once; run no tests")
	baseline := flag.Bool("baseline", true, "first run the tests with no mutant, which must pass")
	short := flag.Bool("short", false, "run the tests with -short")
	race := flag.Bool("race", false, "run the tests with -race")
	failfast := flag.Bool("failfast", false, "stop each run at its first failing test (faster; names one killer)")
	timeout := flag.Duration("timeout", 10*time.Minute, "go test -timeout for each run")
	verbose := flag.Bool("v", false, "print the test output of surviving and broken mutants")
	flag.Parse()

	root, err := os.Getwd()
	if err != nil {
		fatal(err)
	}
	mutants, err := parse(*list)
	if err != nil {
		fatal(err)
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fatal(err)
		}
		var keep []mutant
		for _, m := range mutants {
			if re.MatchString(m.name) {
				keep = append(keep, m)
			}
		}
		mutants = keep
	}
	if len(mutants) == 0 {
		fatal(errors.New("no mutants to run"))
	}

	// Every mutant must apply, exactly once, before anything runs.
	files := make([]string, len(mutants))
	var stale []string
	for i, m := range mutants {
		f, err := locate(root, m)
		if err != nil {
			stale = append(stale, fmt.Sprintf("%s:%d: mutant %s: %v", *list, m.line, m.name, err))
		}
		files[i] = f
	}
	if len(stale) > 0 {
		fmt.Fprintln(os.Stderr, "mutate: the mutant list is stale; fix these before running:")
		for _, s := range stale {
			fmt.Fprintln(os.Stderr, "  "+s)
		}
		os.Exit(2)
	}
	if *check {
		fmt.Printf("mutate: all %d mutants apply exactly once\n", len(mutants))
		return
	}

	work, err := os.MkdirTemp("", "zapsls-mutate-")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(work)
	if err := copyRepo(root, work); err != nil {
		fatal(err)
	}
	testArgs := []string{"test", "-count=1", "-timeout", timeout.String()}
	if *short {
		testArgs = append(testArgs, "-short")
	}
	if *race {
		testArgs = append(testArgs, "-race")
	}
	if *failfast {
		testArgs = append(testArgs, "-failfast")
	}

	began := time.Now()
	if *baseline {
		pkgs := map[string]bool{}
		for _, m := range mutants {
			for _, p := range m.pkgs {
				pkgs[p] = true
			}
		}
		var all []string
		for p := range pkgs {
			all = append(all, p)
		}
		sort.Strings(all)
		fmt.Fprintf(os.Stderr, "mutate: baseline: go test %s\n", strings.Join(all, " "))
		out, err := goTest(work, testArgs, all)
		if err != nil {
			fmt.Fprintln(os.Stderr, out)
			fatal(errors.New("the tests fail with no mutant planted"))
		}
	}

	var results []result
	for i, m := range mutants {
		fmt.Fprintf(os.Stderr, "mutate: [%d/%d] %s (%s)\n", i+1, len(mutants), m.name, files[i])
		r := run(work, files[i], m, testArgs)
		fmt.Fprintf(os.Stderr, "mutate:   %s in %v %s\n", verdict(r), r.elapsed.Round(time.Second), strings.Join(r.by, " "))
		if *verbose && (!r.killed || r.broken) {
			fmt.Fprintln(os.Stderr, r.output)
		}
		results = append(results, r)
	}

	fmt.Println("| mutant | file | planted bug | result | killed by |")
	fmt.Println("|---|---|---|---|---|")
	survived := 0
	for _, r := range results {
		if !r.killed || r.broken {
			survived++
		}
		by := strings.Join(r.by, ", ")
		if len(by) > 300 {
			by = by[:300] + "..."
		}
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.m.name, r.file, r.m.why, verdict(r), by)
	}
	fmt.Printf("\n%d mutants, %d killed, %d survived or broken, in %v\n",
		len(results), len(results)-survived, survived, time.Since(began).Round(time.Second))
	if survived > 0 {
		os.Exit(1)
	}
}

func verdict(r result) string {
	switch {
	case r.broken:
		return "BROKEN (does not compile)"
	case r.killed:
		return "killed"
	}
	return "SURVIVED"
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "mutate:", err)
	os.Exit(2)
}

// parse reads the mutant list. Its format:
//
//	# a comment
//	mutant NAME
//	why    what the planted bug does
//	file   GLOB             (relative to the repository root)
//	test   PKG [PKG...]     (optional; default ".")
//	-<original line>        (one or more; the text after "-", tabs kept)
//	+<replacement line>     (zero or more)
//	end
func parse(path string) ([]mutant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []mutant
	var cur *mutant
	var orig, repl []string
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		bad := func(msg string) error { return fmt.Errorf("%s:%d: %s", path, n, msg) }
		if cur == nil {
			switch {
			case strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#"):
			case strings.HasPrefix(line, "mutant "):
				cur = &mutant{name: strings.TrimSpace(strings.TrimPrefix(line, "mutant ")), line: n, pkgs: []string{"."}}
				if names[cur.name] {
					return nil, bad("duplicate mutant " + cur.name)
				}
				names[cur.name] = true
				orig, repl = nil, nil
			default:
				return nil, bad("want a mutant, a comment or a blank line")
			}
			continue
		}
		key, val, _ := strings.Cut(line, " ")
		val = strings.TrimSpace(val)
		switch {
		case strings.HasPrefix(line, "-"):
			orig = append(orig, line[1:])
		case strings.HasPrefix(line, "+"):
			repl = append(repl, line[1:])
		case key == "why":
			cur.why = val
		case key == "file":
			cur.glob = val
		case key == "test":
			cur.pkgs = strings.Fields(val)
		case line == "end":
			if cur.glob == "" || len(orig) == 0 || cur.why == "" {
				return nil, bad("mutant " + cur.name + " needs why, file and original lines")
			}
			cur.orig = strings.Join(orig, "\n")
			cur.repl = strings.Join(repl, "\n")
			if cur.orig == cur.repl {
				return nil, bad("mutant " + cur.name + " changes nothing")
			}
			out = append(out, *cur)
			cur = nil
		default:
			return nil, bad(fmt.Sprintf("unexpected line in mutant %s: %q", cur.name, line))
		}
	}
	if cur != nil {
		return nil, fmt.Errorf("%s: mutant %s has no end", path, cur.name)
	}
	return out, sc.Err()
}

// locate returns the one file under root, among those m's glob matches,
// that holds m's original text, which must occur exactly once in all of
// them together.
func locate(root string, m mutant) (string, error) {
	matches, err := filepath.Glob(filepath.Join(root, m.glob))
	if err != nil {
		return "", err
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("no file matches %s", m.glob)
	}
	found, count := "", 0
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", err
		}
		if c := bytes.Count(b, []byte(m.orig)); c > 0 {
			count += c
			found, _ = filepath.Rel(root, f)
		}
	}
	switch count {
	case 0:
		return "", fmt.Errorf("original text not found in %s:\n%s", m.glob, m.orig)
	case 1:
		return found, nil
	}
	return "", fmt.Errorf("original text found %d times in %s (make it longer to be unique):\n%s", count, m.glob, m.orig)
}

// copyRepo copies the files git knows of (tracked, and untracked but not
// ignored) from root to dst.
func copyRepo(root, dst string) error {
	out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		return fmt.Errorf("git ls-files: %w", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		fi, err := os.Lstat(src)
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		if err := copyFile(src, filepath.Join(dst, name), fi.Mode()); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// run plants m in file (relative to work), runs the tests, and restores
// the file.
func run(work, file string, m mutant, testArgs []string) result {
	r := result{m: m, file: file}
	path := filepath.Join(work, file)
	orig, err := os.ReadFile(path)
	if err != nil {
		fatal(err)
	}
	mutated := bytes.Replace(orig, []byte(m.orig), []byte(m.repl), 1)
	if err := os.WriteFile(path, mutated, 0o644); err != nil {
		fatal(err)
	}
	defer func() {
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			fatal(err)
		}
	}()
	start := time.Now()
	out, err := goTest(work, testArgs, m.pkgs)
	r.elapsed = time.Since(start)
	r.output = out
	r.killed = err != nil
	r.broken = strings.Contains(out, "[build failed]") || strings.Contains(out, "[setup failed]")
	r.by = failingTests(out)
	return r
}

var failRE = regexp.MustCompile(`--- FAIL: (\S+)`)

// failingTests lists the tests go test reported failing, parents before
// their subtests, each once.
func failingTests(out string) []string {
	seen := map[string]bool{}
	var names []string
	for _, m := range failRE.FindAllStringSubmatch(out, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			names = append(names, m[1])
		}
	}
	// Keep only the most specific name of each failing chain: a parent
	// fails because its subtest did.
	var leaves []string
	for _, n := range names {
		leaf := true
		for _, o := range names {
			if strings.HasPrefix(o, n+"/") {
				leaf = false
				break
			}
		}
		if leaf {
			leaves = append(leaves, n)
		}
	}
	if len(leaves) == 0 && strings.Contains(out, "panic:") {
		leaves = []string{"(panic)"}
	}
	return leaves
}

func goTest(dir string, args, pkgs []string) (string, error) {
	ctx := context.Background()
	cmd := exec.CommandContext(ctx, "go", append(append([]string(nil), args...), pkgs...)...)
	cmd.Dir = dir
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	err := cmd.Run()
	return buf.String(), err
}

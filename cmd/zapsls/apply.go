package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	sls "github.com/aliyun/aliyun-log-go-sdk"
)

// SLS error codes applyIndex tells apart.
const (
	codeIndexNotExist     = "IndexConfigNotExist"
	codeIndexAlreadyExist = "IndexAlreadyExist"
	codeProjectNotExist   = "ProjectNotExist"
	codeLogStoreNotExist  = "LogStoreNotExist"
)

// applyIndex creates the index of project/logstore as want, or merges want
// into the one it has (see mergeIndex), and reports what it did to out.
func applyIndex(c sls.ClientInterface, project, logstore string, want sls.Index, force bool, out io.Writer) error {
	where := project + "/" + logstore
	// Twice at most: when the index appears between GetIndex and
	// CreateIndex, merge into it.
	for attempt := 0; ; attempt++ {
		existing, err := c.GetIndexString(project, logstore)
		if slsCode(err) == codeIndexNotExist {
			err = c.CreateIndex(project, logstore, want)
			if slsCode(err) == codeIndexAlreadyExist && attempt == 0 {
				continue
			}
			if err != nil {
				return describe("CreateIndex", project, logstore, err)
			}
			fmt.Fprintf(out, "created the index of %s: full-text, and %s: %s\n", where, plural(len(want.Keys), "keys", "key"), strings.Join(slices.Sorted(maps.Keys(want.Keys)), ", "))
			return nil
		}
		if err != nil {
			return describe("GetIndex", project, logstore, err)
		}
		merged, res, err := mergeIndex([]byte(existing), want, force)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if len(res.added) == 0 && len(res.replaced) == 0 {
			fmt.Fprintf(out, "the index of %s already has every key zapsls writes, with its type: nothing to change\n", where)
			res.notes(out)
			return nil
		}
		if err := c.UpdateIndexString(project, logstore, string(merged)); err != nil {
			return describe("UpdateIndex", project, logstore, err)
		}
		fmt.Fprintf(out, "updated the index of %s:\n", where)
		if len(res.added) > 0 {
			fmt.Fprintf(out, "  added %s: %s\n", plural(len(res.added), "keys", "key"), strings.Join(res.added, ", "))
		}
		if len(res.replaced) > 0 {
			fmt.Fprintf(out, "  replaced %s (--force): %s\n", plural(len(res.replaced), "keys", "key"), strings.Join(res.replaced, ", "))
		}
		if res.same > 0 {
			fmt.Fprintf(out, "  %s indexed already as zapsls writes it\n", plural(res.same, "keys were", "key was"))
		}
		if res.others > 0 {
			fmt.Fprintf(out, "  kept %s the logstore indexes\n", plural(res.others, "other keys", "other key"))
		}
		res.notes(out)
		return nil
	}
}

// mergeResult says what mergeIndex changed.
type mergeResult struct {
	added    []string // keys added
	replaced []string // "KEY (OLD -> NEW)", with force
	same     int      // wanted keys indexed already with the wanted type
	others   int      // keys of the existing index that want lacks
	noLine   bool     // the existing index has no full-text index
}

func (r mergeResult) notes(out io.Writer) {
	if r.noLine {
		fmt.Fprintln(out, "  note: the logstore has no full-text index, and it is left so: only the keys are searchable")
	}
}

// conflict is one key the logstore indexes with another type than zapsls
// derives.
type conflict struct {
	key, existing, derived string
}

// conflictError lists the conflicting keys.
type conflictError struct {
	conflicts []conflict
	// flags maps keys to the flag that names them (--pid-key), when the
	// command knows it, to say how to write another key or none.
	flags map[string]string
}

func (e *conflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the logstore indexes %s zapsls writes with another type:", plural(len(e.conflicts), "of the keys", "key"))
	for _, c := range e.conflicts {
		fmt.Fprintf(&b, "\n  key %q: the logstore indexes it as %s, zapsls derives %s", c.key, c.existing, c.derived)
		if flag, ok := e.flags[c.key]; ok {
			fmt.Fprintf(&b, " (%s NAME writes it under another name, %s \"\" leaves it out: give the same flags as the application's encoder)", flag, flag)
		}
	}
	b.WriteString("\nnothing was changed: --force replaces those keys' configuration with zapsls's (SLS indexes only the logs written after the change that way), or have zapsls write other key names (the --*-key flags, as the application's encoder has them)")
	return b.String()
}

// mergeIndex adds want's keys to the existing index (a GetIndex body) and
// returns the UpdateIndex body. Everything the existing index has is kept
// as it is, fields the SDK's sls.Index does not model included, except
// lastModifyTime, which SLS sets; of want, only the keys are used. A key
// that both have with different types is a *conflictError, unless force,
// which replaces that key's configuration with want's.
func mergeIndex(existing []byte, want sls.Index, force bool) ([]byte, mergeResult, error) {
	var res mergeResult
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(existing, &doc); err != nil || doc == nil {
		return nil, res, fmt.Errorf("GetIndex answered something that is not an index: %.200q", existing)
	}
	delete(doc, "lastModifyTime")
	if line, ok := doc["line"]; !ok || string(line) == "null" {
		res.noLine = true
	}
	keys := map[string]json.RawMessage{}
	if raw, ok := doc["keys"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &keys); err != nil {
			return nil, res, fmt.Errorf("GetIndex answered keys that do not decode: %v", err)
		}
	}

	var conflicts []conflict
	for _, name := range slices.Sorted(maps.Keys(want.Keys)) {
		wk := want.Keys[name]
		raw, ok := keys[name]
		if !ok {
			b, err := json.Marshal(wk)
			if err != nil {
				return nil, res, err
			}
			keys[name] = b
			res.added = append(res.added, name)
			continue
		}
		var have struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(raw, &have); err != nil {
			return nil, res, fmt.Errorf("GetIndex answered key %q that does not decode: %v", name, err)
		}
		haveType := strings.ToLower(have.Type)
		if haveType == "" {
			haveType = "text" // the type SLS assumes
		}
		if haveType == wk.Type {
			res.same++
			continue
		}
		if !force {
			conflicts = append(conflicts, conflict{key: name, existing: haveType, derived: wk.Type})
			continue
		}
		b, err := json.Marshal(wk)
		if err != nil {
			return nil, res, err
		}
		keys[name] = b
		res.replaced = append(res.replaced, fmt.Sprintf("%s (%s -> %s)", name, haveType, wk.Type))
	}
	if len(conflicts) > 0 {
		return nil, res, &conflictError{conflicts: conflicts}
	}
	res.others = len(keys) - len(want.Keys)

	rawKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, res, err
	}
	doc["keys"] = rawKeys
	merged, err := json.Marshal(doc)
	if err != nil {
		return nil, res, err
	}
	return merged, res, nil
}

// slsCode returns the SLS error code of err, or "".
func slsCode(err error) string {
	var se *sls.Error
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// describe turns an SDK error into a message that says what to do.
func describe(op, project, logstore string, err error) error {
	var se *sls.Error
	if !errors.As(err, &se) || se.HTTPCode <= 0 {
		var bad *sls.BadResponseError
		if errors.As(err, &bad) {
			return fmt.Errorf("%s %s/%s: SLS answered %d with a body that is not an SLS answer: %.200q", op, project, logstore, bad.HTTPCode, bad.RespBody)
		}
		return fmt.Errorf("%s %s/%s: %v", op, project, logstore, err)
	}
	answered := fmt.Sprintf("SLS answered %d %s: %s (request %s)", se.HTTPCode, se.Code, se.Message, se.RequestID)
	switch {
	case se.Code == codeProjectNotExist:
		return fmt.Errorf("project %q does not exist at this endpoint: check the URL's project and the endpoint's region; %s", project, answered)
	case se.Code == codeLogStoreNotExist:
		return fmt.Errorf("logstore %q does not exist in project %q: create it first (an index belongs to a logstore); %s", logstore, project, answered)
	case permissionError(se):
		return fmt.Errorf("%s %s/%s: permission denied: %s\nthe access key needs log:GetIndex, log:CreateIndex and log:UpdateIndex on acs:log:*:*:project/%s/logstore/%s, and must be valid (key id, secret, STS token)",
			op, project, logstore, answered, project, logstore)
	}
	return fmt.Errorf("%s %s/%s: %s", op, project, logstore, answered)
}

// permissionError reports whether SLS refused the caller rather than the
// request: bad or expired credentials, or an action RAM denies.
func permissionError(se *sls.Error) bool {
	switch se.Code {
	case "Unauthorized", "SignatureNotMatch", "InvalidAccessKeyId", "ProjectForbidden", "Forbidden", "AccessDenied":
		return true
	}
	return se.HTTPCode == 401
}

// plural returns "N many", or "1 one".
func plural(n int, many, one string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

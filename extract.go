package zapsls

import (
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Extract configures WithMessageJSON and WithMessageKV: how the contents
// found in a message are named, and whether the message itself is kept.
// Its zero value extracts every key as it is and keeps the message.
//
// It has json and yaml tags, for Config.Lines (the same options on the
// Writer's JSON-lines path) and for configuration files.
type Extract struct {
	// Prefix and Suffix are put around each extracted key: with Prefix
	// "m_", the message {"user":"ann"} adds the content m_user=ann. The
	// result obeys every key rule of the encoder (reserved names renamed,
	// cut to MaxKeyBytes, made valid UTF-8, each repair counted).
	Prefix string `json:"prefix" yaml:"prefix"`
	Suffix string `json:"suffix" yaml:"suffix"`
	// DropMessage leaves the message content out when at least one content
	// was extracted from it. A message with nothing to extract, or that does
	// not parse, is always kept as it is.
	DropMessage bool `json:"dropMessage" yaml:"dropMessage"`
	// Separator is what stands between key and value for WithMessageKV:
	// default "=". WithMessageJSON ignores it.
	Separator string `json:"separator" yaml:"separator"`
}

// WithMessageJSON makes a message that is a JSON object (after leading
// spaces, it starts with '{' and the whole message is one valid object)
// add one content per top-level key, the equivalent of the Python SDK
// handler's extract_json: strings unquoted, every other value (numbers,
// true, false, null, nested objects and arrays) as its JSON text as written.
// Keys are named by x (see Extract). A message that is JSON but not an
// object, or that fails to parse, is kept as it is and adds nothing.
// Duplicate keys, in the message or between the message and fields, are
// all kept, as zap's JSON encoder keeps them.
//
// With WithMessageKV too, a message that is a JSON object is not searched
// for pairs; any other message is.
//
// The work happens in EncodeEntry, on the caller's goroutine; a message
// whose first non-space byte is not '{' costs one byte comparison and no
// allocation. The extracted contents stand where the message would.
func WithMessageJSON(x Extract) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) {
		x.Separator = ""
		c.msgJSON = &x
	})
}

// WithMessageKV makes pairs KEY=VALUE in a message add one content each,
// the equivalent of the Python SDK handler's extract_kv: "user=ann
// took=15ms" adds user=ann and took=15ms. x.Separator replaces "=" (spaces
// around it are allowed). A key is a run of letters, digits, '_', '.' and
// '-'; a value is either double-quoted (a="x = 1, y" gives a=x = 1, y: the
// quoted text as it is, up to the next double quote) or runs to the next
// space, comma, semicolon or double quote. Keys are named by x (see
// Extract).
//
// The work happens in EncodeEntry, on the caller's goroutine; a message
// without the separator costs one substring search and no allocation.
func WithMessageKV(x Extract) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) {
		if x.Separator == "" {
			x.Separator = "="
		}
		c.msgKV = &x
	})
}

// WithBuiltinAffixes puts prefix and suffix around the key of every built-in
// field: the EncoderConfig keys (MessageKey, LevelKey, TimeKey, NameKey,
// CallerKey, FunctionKey, StacktraceKey) and the FieldSet's keys, the
// equivalent of the Python SDK handler's buildin_fields_prefix and
// buildin_fields_suffix. With ("_", "_"), "msg" becomes "_msg_". Fields the
// application logs and extracted keys keep their names, which is what keeps
// them apart. The keys are computed once, in NewEncoder.
func WithBuiltinAffixes(prefix, suffix string) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) {
		c.builtinPrefix, c.builtinSuffix = prefix, suffix
	})
}

// WithBuiltinRoot puts every built-in field (see WithBuiltinAffixes) into
// one content named key, as a JSON object whose values are all strings,
// the equivalent of the Python SDK handler's built_in_root_field:
//
//	root={"level":"info","caller":"app/main.go:12","msg":"started","pid":"4242"}
//
// The root content comes after the entry's fields. An empty key turns it
// off (the default).
func WithBuiltinRoot(key string) EncoderOption {
	return encoderOptionFunc(func(c *encoderConf) { c.root = key })
}

// addMessage adds the entry's message: its extracted contents, if the
// encoder extracts any, and the message itself under key unless key is empty
// or the extraction asks to drop it.
func (e *encoder) addMessage(key, msg string) {
	if (e.conf.msgJSON != nil || e.conf.msgKV != nil) && e.extract(msg) {
		return
	}
	if key != "" {
		builtin(e, key, msg, utf8.ValidString)
	}
}

// extract adds the contents found in msg, and reports whether the message
// should be dropped.
func (e *encoder) extract(msg string) (drop bool) {
	if x := e.conf.msgJSON; x != nil && startsObject(msg) {
		if n, ok := e.extractJSON(x, msg); ok {
			return x.DropMessage && n > 0
		}
	}
	if x := e.conf.msgKV; x != nil && strings.Contains(msg, x.Separator) {
		n := e.extractKV(x, msg)
		return x.DropMessage && n > 0
	}
	return false
}

// startsObject reports whether the first non-space byte of s is '{'.
func startsObject(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		}
		return false
	}
	return false
}

// addExtracted adds val under x.Prefix+key+x.Suffix, with the key rules of
// every other content. The key is built in e.prefix, which is empty while
// the message is added.
func addExtracted[S string | []byte](e *encoder, x *Extract, key S, val S, valid func(S) bool) {
	e.prefix = append(append(append(e.prefix[:0], x.Prefix...), key...), x.Suffix...)
	addValue(e, "", val, valid)
	e.prefix = e.prefix[:0]
}

// extractKV adds the KEY=VALUE pairs of msg (see WithMessageKV) and returns
// how many it added. It jumps from separator to separator (strings.Index),
// reading each key backwards from its separator, so that text between
// pairs costs next to nothing.
func (e *encoder) extractKV(x *Extract, msg string) int {
	sep := x.Separator
	n := 0
	for pos := 0; pos < len(msg); {
		j := strings.Index(msg[pos:], sep)
		if j < 0 {
			break
		}
		j += pos
		next := j + len(sep)
		keyEnd := j
		for keyEnd > pos && (msg[keyEnd-1] == ' ' || msg[keyEnd-1] == '\t') {
			keyEnd--
		}
		k := keyEnd
		for k > pos {
			r, size := utf8.DecodeLastRuneInString(msg[pos:k])
			if !kvKeyRune(r) {
				break
			}
			k -= size
		}
		if k == keyEnd {
			pos = next
			continue
		}
		v := skipBlanks(msg, next)
		if v < len(msg) && msg[v] == '"' {
			end := strings.IndexByte(msg[v+1:], '"')
			if end < 0 {
				pos = v + 1
				continue
			}
			addExtracted(e, x, msg[k:keyEnd], msg[v+1:v+1+end], utf8.ValidString)
			n++
			pos = v + 1 + end + 1
			continue
		}
		end := v
		for end < len(msg) && !kvValueEnd(msg[end]) {
			end++
		}
		if end == v {
			pos = next
			continue
		}
		addExtracted(e, x, msg[k:keyEnd], msg[v:end], utf8.ValidString)
		n++
		pos = end
	}
	return n
}

func kvKeyRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-'
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

func kvValueEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', ',', ';', '"':
		return true
	}
	return false
}

func skipBlanks(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// maxJSONDepth bounds the nesting extractJSON follows; a deeper message is
// kept as it is.
const maxJSONDepth = 1000

// extractJSON adds one content per top-level key of the JSON object msg
// and returns how many it added. When msg is not exactly one valid JSON
// object, it takes back what it added and returns ok false.
func (e *encoder) extractJSON(x *Extract, msg string) (n int, ok bool) {
	mark, repairs := len(e.buf), e.repairs
	ok = forEachMember(msg, func(rawKey, raw string) {
		// The key goes into e.prefix and the value into e.scratch, which
		// addValue reads and neither overwrites before it has.
		e.prefix = append(e.prefix[:0], x.Prefix...)
		e.prefix = appendJSONUnquoted(e.prefix, rawKey)
		e.prefix = append(e.prefix, x.Suffix...)
		if raw[0] == '"' {
			e.scratch = appendJSONUnquoted(e.scratch[:0], raw[1:len(raw)-1])
			addValue(e, "", e.scratch, utf8.Valid)
		} else {
			addValue(e, "", raw, utf8.ValidString)
		}
		e.prefix = e.prefix[:0]
		n++
	})
	if !ok {
		e.buf, e.repairs = e.buf[:mark], repairs
		return 0, false
	}
	return n, true
}

// forEachMember calls fn with the key (the text between its quotes, escapes
// unresolved) and the value (its JSON text) of each top-level member of the
// JSON object s, checking s as it goes. It reports whether s is exactly one
// valid JSON object, white space around it allowed; when it is not, fn may
// have been called for the members before the fault.
func forEachMember(s string, fn func(rawKey, raw string)) bool {
	p := jsonScan{s: s}
	p.ws()
	if !p.eat('{') {
		return false
	}
	p.ws()
	if p.eat('}') {
		return p.end()
	}
	for {
		p.ws()
		kStart := p.i
		if !p.str() {
			return false
		}
		rawKey := s[kStart+1 : p.i-1]
		p.ws()
		if !p.eat(':') {
			return false
		}
		p.ws()
		vStart := p.i
		if !p.value(0) {
			return false
		}
		fn(rawKey, s[vStart:p.i])
		p.ws()
		if p.eat(',') {
			continue
		}
		if p.eat('}') {
			return p.end()
		}
		return false
	}
}

// jsonScan checks JSON text (RFC 8259) without building anything.
type jsonScan struct {
	s string
	i int
}

func (p *jsonScan) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonScan) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// end reports whether only white space is left.
func (p *jsonScan) end() bool {
	p.ws()
	return p.i == len(p.s)
}

func (p *jsonScan) value(depth int) bool {
	if p.i >= len(p.s) || depth > maxJSONDepth {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		return p.str()
	case c == '{':
		p.i++
		p.ws()
		if p.eat('}') {
			return true
		}
		for {
			p.ws()
			if !p.str() {
				return false
			}
			p.ws()
			if !p.eat(':') {
				return false
			}
			p.ws()
			if !p.value(depth + 1) {
				return false
			}
			p.ws()
			if p.eat('}') {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == '[':
		p.i++
		p.ws()
		if p.eat(']') {
			return true
		}
		for {
			p.ws()
			if !p.value(depth + 1) {
				return false
			}
			p.ws()
			if p.eat(']') {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == 't':
		return p.word("true")
	case c == 'f':
		return p.word("false")
	case c == 'n':
		return p.word("null")
	default:
		return p.number()
	}
}

func (p *jsonScan) word(w string) bool {
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

// str checks a string, from its opening quote to just past its closing one.
func (p *jsonScan) str() bool {
	if !p.eat('"') {
		return false
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return false
			}
			switch p.s[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.s) || !isHex4(p.s[p.i+2:p.i+6]) {
					return false
				}
				p.i += 6
			default:
				return false
			}
		default:
			p.i++
		}
	}
	return false
}

func (p *jsonScan) number() bool {
	start := p.i
	p.eat('-')
	switch {
	case p.eat('0'):
	case p.i < len(p.s) && p.s[p.i] >= '1' && p.s[p.i] <= '9':
		p.digits()
	default:
		return false
	}
	if p.eat('.') && !p.digits() {
		return false
	}
	if p.eat('e') || p.eat('E') {
		if !p.eat('+') {
			p.eat('-')
		}
		if !p.digits() {
			return false
		}
	}
	return p.i > start
}

func (p *jsonScan) digits() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

func isHex4(s string) bool {
	for i := 0; i < 4; i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) rune {
	switch {
	case c >= '0' && c <= '9':
		return rune(c - '0')
	case c >= 'a' && c <= 'f':
		return rune(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// appendJSONUnquoted appends the text of the inside of a JSON string that
// jsonScan.str accepted, escapes resolved; a lone surrogate becomes U+FFFD.
// Bytes that are not valid UTF-8 are copied as they are, for addValue to
// repair and count.
func appendJSONUnquoted(b []byte, s string) []byte {
	for {
		i := strings.IndexByte(s, '\\')
		if i < 0 {
			return append(b, s...)
		}
		b = append(b, s[:i]...)
		c := s[i+1]
		s = s[i+2:]
		switch c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'u':
			r := hex4(s)
			s = s[4:]
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' && isHex4(s[2:6]) {
					r2 = hex4(s[2:])
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
					s = s[6:]
				} else {
					r = utf8.RuneError
				}
			}
			b = utf8.AppendRune(b, r)
		default: // '"', '\\', '/'
			b = append(b, c)
		}
	}
}

func hex4(s string) rune {
	return hexVal(s[0])<<12 | hexVal(s[1])<<8 | hexVal(s[2])<<4 | hexVal(s[3])
}

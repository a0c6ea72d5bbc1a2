package zapsls

import (
	"net"
	"net/url"
	"strconv"
	"strings"
)

// endpoint is a parsed Config.Endpoint.
type endpoint struct {
	scheme  string // "http" or "https"
	host    string // host[:port], without the project
	dialTo  string // host[:port] to connect to
	reqHost string // Host header: PROJECT.host[:port]
}

// parseEndpoint reads Config.Endpoint. It accepts exactly the spellings
// that can deliver: host, host:port, http://host[:port] and
// https://host[:port] (HTTPS when no scheme), each with an optional
// trailing slash, which is dropped. It refuses, naming Endpoint, every
// spelling that never can: a path (requests would go to PATH/logstores/...
// and get 404 for ever), a query or fragment, user info (credentials go in
// their own fields), an empty host, a port outside 1 to 65535, a scheme
// other than http or https. An endpoint that already begins with
// "PROJECT." (my-project.cn-hangzhou.log.aliyuncs.com) is taken as the
// full host: the project is not added twice. The problems never quote
// user info.
func parseEndpoint(raw, project string) (endpoint, *ConfigError) {
	var ep endpoint
	fail := func(format string, args ...interface{}) (endpoint, *ConfigError) {
		return ep, configErr("Endpoint", format, args...)
	}
	if raw == "" {
		return fail("required (for example cn-hangzhou.log.aliyuncs.com)")
	}
	if strings.TrimSpace(raw) != raw || strings.ContainsAny(raw, " \t\r\n") {
		return fail("contains white space")
	}
	full := raw
	if !strings.Contains(raw, "://") {
		full = "https://" + raw
	}
	u, err := url.Parse(full)
	if err != nil {
		// url's error quotes the input, user info included.
		return fail("not a host[:port] or an http(s):// URL (a port must be a number from 1 to 65535)")
	}
	shown := u.Redacted()
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return fail("scheme %q: want http:// or https:// (or no scheme, for HTTPS)", u.Scheme)
	case u.User != nil:
		return fail("has user info: put credentials in AccessKeyID and AccessKeySecret, not in the endpoint")
	case u.Opaque != "":
		return fail("%q: want host[:port] or scheme://host[:port]", shown)
	case u.RawQuery != "" || u.ForceQuery:
		return fail("%q has a query: want only host[:port]", shown)
	case u.Fragment != "":
		return fail("%q has a fragment: want only host[:port]", shown)
	case u.Path != "" && u.Path != "/":
		return fail("%q has a path: SLS serves the API at the root of the host; write only host[:port]", shown)
	}
	hostname, port := u.Hostname(), u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return fail("%q: empty port", shown)
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return fail("port %s: want 1 to 65535", port)
		}
	}
	if hostname == "" {
		return fail("%q: no host", shown)
	}
	ip := net.ParseIP(hostname)
	if ip == nil {
		if problem := checkHostname(hostname); problem != "" {
			return fail("host %q: %s", hostname, problem)
		}
		// Host names are case-insensitive: My-Project.cn-... is the project too.
		if prefix := project + "."; project != "" && len(hostname) >= len(prefix) && strings.EqualFold(hostname[:len(prefix)], prefix) {
			hostname = hostname[len(prefix):]
			if checkHostname(hostname) != "" {
				return fail("host %q: nothing after the project", u.Hostname())
			}
		}
	} else if strings.Contains(hostname, ":") && !strings.HasPrefix(u.Host, "[") {
		return fail("IPv6 address %q: write it in brackets, [%s]:port", hostname, hostname)
	}
	ep.scheme = u.Scheme
	ep.host = hostname
	if ip != nil && ip.To4() == nil {
		ep.host = "[" + hostname + "]"
	}
	if port != "" {
		ep.host += ":" + port
	}
	ep.reqHost = project + "." + ep.host
	ep.dialTo = ep.reqHost
	if hostname == "localhost" || ip != nil {
		ep.dialTo = ep.host
	}
	return ep, nil
}

// checkHostname returns what is wrong with a DNS host name, or "": labels
// of letters, digits, hyphens (and underscores, which some private names
// use), none empty, none starting or ending with a hyphen.
func checkHostname(h string) string {
	h = strings.TrimSuffix(h, ".") // a fully qualified name
	if h == "" || len(h) > 253 {
		return "want a host name of 1 to 253 characters"
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return "empty or over-long label"
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return "a label starts or ends with a hyphen"
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return "want letters, digits, hyphens and dots"
			}
		}
	}
	return ""
}

package zapsls

import (
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/zapsls/zapsls/slstest"
)

// The failure classes of README.md's "Retries" guarantee, written out here
// independently of classify: the oracle the table below checks it against.
var (
	quotaCodes = []string{"WriteQuotaExceed", "ShardWriteQuotaExceed", "ProjectQuotaExceed"}
	// Transient on the service's side, whatever the status says.
	retryCodes = []string{"RequestTimeExpired", "RequestTimeTooSkewed", "InternalServerError", "ServerBusy"}
	// An STS token the provider may replace.
	tokenCodes = []string{"SecurityTokenExpired", "InvalidSecurityToken"}
	// Refusals a retry cannot change.
	refusalCodes = []string{"Unauthorized", "SignatureNotMatch", "InvalidAccessKeyId", "ProjectNotExist",
		"LogStoreNotExist", "PostBodyInvalid", "PostBodyTooLarge", "InvalidKey", "SomeFutureCode"}
)

// wantKind is the class README.md promises for an answer with this status
// (0: no answer), SLS code ("" for none, as from a proxy) and token.
func wantKind(status int, code string, token bool) failureKind {
	switch {
	case slices.Contains(quotaCodes, code):
		return retryQuota
	case slices.Contains(retryCodes, code):
		return retryable
	case slices.Contains(tokenCodes, code):
		return retryAuth
	case status == 0, status >= 500: // network errors, timeouts, 5xx
		return retryable
	case status == http.StatusTooManyRequests:
		return retryQuota
	case status == http.StatusUnauthorized && token:
		return retryAuth
	}
	return permanent
}

// TestClassifyTable: every status x code x token combination, against the
// classes README.md promises.
func TestClassifyTable(t *testing.T) {
	statuses := []int{0, 400, 401, 403, 404, 413, 429, 500, 501, 502, 503, 504, 599}
	codes := append([]string{""}, slices.Concat(quotaCodes, retryCodes, tokenCodes, refusalCodes)...)
	n := 0
	for _, status := range statuses {
		for _, code := range codes {
			for _, token := range []bool{false, true} {
				e := &PutLogsError{Status: status, Code: code, hadToken: token}
				assert.Equal(t, wantKind(status, code, token), classify(e), "status %d, code %q, token %v", status, code, token)
				n++
				// A certificate that does not verify is never retried.
				e.badCert = true
				assert.Equal(t, permanent, classify(e), "bad certificate, status %d, code %q", status, code)
			}
		}
	}
	// The cases a proxy or load balancer in front of SLS produces: a 5xx
	// without an SLS code is retried.
	for _, status := range []int{500, 502, 503, 504} {
		assert.Equal(t, retryable, classify(&PutLogsError{Status: status}), "HTTP %d without an SLS code", status)
	}
	assert.Equal(t, permanent, classify(&PutLogsError{Status: 401}), "a 401 without a token")
	assert.Equal(t, permanent, classify(&PutLogsError{Status: 400}), "a 400 without a code")
	t.Logf("%d combinations", n)
}

// TestWriterRetriesProxyErrors: a 502, 503 or 504 whose body is not an
// SLS error (an HTML page, or nothing), as a proxy or load balancer in
// front of SLS answers, is retried and the batch delivered.
func TestWriterRetriesProxyErrors(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
	}{
		{502, "<html><body><h1>502 Bad Gateway</h1></body></html>"},
		{503, ""},
		{504, "upstream request timeout"},
	} {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			srv := slstest.NewServer(slstest.Options{RecordAttempts: true})
			defer srv.Close()
			w, errs := newTestWriter(t, srv, nil)
			srv.FailNext(2, slstest.Fault{Status: tc.status, Body: []byte(tc.body)})
			logger := newTestLogger(w)
			logger.Info("behind a proxy", zap.String("g", "p"), zap.Int("i", 0))
			require.NoError(t, logger.Sync())
			require.Equal(t, 1, srv.LogCount())
			s := w.Stats()
			assert.Equal(t, uint64(2), s.Retries)
			assert.Equal(t, uint64(1), s.Delivered)
			assert.Zero(t, s.Failed)
			attempts := srv.Attempts()
			require.Len(t, attempts, 3)
			for _, a := range attempts[:2] {
				assert.Equal(t, tc.status, a.Status)
				assert.Empty(t, a.Code, "the answer carried no SLS code")
			}
			assert.Equal(t, http.StatusOK, attempts[2].Status)
			assert.Contains(t, errs.text(), fmt.Sprint(tc.status))
		})
	}
}

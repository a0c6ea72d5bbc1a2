package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// TestErrorsNameTheCommandOnce: the library's "zapsls: " is not repeated
// after the command's own prefix.
func TestErrorsNameTheCommandOnce(t *testing.T) {
	res := runCmd(t, credsEnv, nil, "index", "--url", "sls://h/p/l?bogus=1")
	require.Equal(t, 2, res.code)
	require.Contains(t, res.stderr, "zapsls index: sink URL")
	require.NotContains(t, res.stderr, "zapsls index: zapsls:")
}

// TestWrongSecretDoesNotEchoTheKeyID: SLS's SignatureNotMatch message
// quotes the Authorization header, access key id included; the command
// scrubs it, as the library does.
func TestWrongSecretDoesNotEchoTheKeyID(t *testing.T) {
	srv := newServer(t, slstest.Options{AccessKeyID: "LTAI-my-key-id"})
	env := envOf(map[string]string{zapsls.EnvAccessKeyID: "LTAI-my-key-id", zapsls.EnvAccessKeySecret: "wrong-secret"})
	res := runCmd(t, env, nil, "index", "--apply", "--url", storeURL(srv))
	require.Equal(t, 1, res.code)
	require.Contains(t, res.stderr, "SignatureNotMatch")
	require.NotContains(t, res.stderr, "LTAI-my-key-id")
	require.NotContains(t, res.stderr, "wrong-secret")
}

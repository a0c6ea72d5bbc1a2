package zapsls

import (
	"fmt"
	"strings"
	"sync"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// Credential sources: the values of Config.CredentialsFrom (the sink URL's
// credentials parameter). Each names a provider of
// github.com/aliyun/credentials-go, which reads the variables and files the
// Alibaba Cloud SDKs and CLI read (README.md, "Credentials").
const (
	// CredentialsDefault is the Alibaba Cloud default chain, first that
	// works: the environment, OIDC (RRSA on ACK), the CLI's profile file
	// (~/.aliyun/config.json), the credentials file
	// (~/.alibabacloud/credentials), the ECS RAM role, and
	// ALIBABA_CLOUD_CREDENTIALS_URI.
	CredentialsDefault = "default"
	// CredentialsEnv is ALIBABA_CLOUD_ACCESS_KEY_ID,
	// ALIBABA_CLOUD_ACCESS_KEY_SECRET and ALIBABA_CLOUD_SECURITY_TOKEN,
	// read on every request (so a rotated token is picked up).
	CredentialsEnv = "env"
	// CredentialsOIDC is RRSA on ACK: the OIDC token in
	// ALIBABA_CLOUD_OIDC_TOKEN_FILE exchanged at STS (AssumeRoleWithOIDC)
	// for ALIBABA_CLOUD_ROLE_ARN, with ALIBABA_CLOUD_OIDC_PROVIDER_ARN.
	CredentialsOIDC = "oidc"
	// CredentialsProfile is the Alibaba Cloud CLI's profile file,
	// ALIBABA_CLOUD_CONFIG_FILE or ~/.aliyun/config.json, its current
	// profile or ALIBABA_CLOUD_PROFILE.
	CredentialsProfile = "profile"
	// CredentialsECSRAMRole is the RAM role of the ECS instance, from its
	// metadata service: Config.RAMRole names it, or the instance's own
	// role is asked for.
	CredentialsECSRAMRole = "ecs-ram-role"
)

// CredentialsError is a credentials provider that could not hand out
// credentials. It names the source and never holds a credential.
type CredentialsError struct {
	// Source is the Config.CredentialsFrom value.
	Source string
	// Problem is what the provider reported.
	Problem string
}

func (e *CredentialsError) Error() string {
	return fmt.Sprintf("zapsls: credentials (%s): %s", e.Source, e.Problem)
}

// NewCredentialsProvider returns the provider NewWriter uses for
// Config.CredentialsFrom source, with ramRole for CredentialsECSRAMRole,
// for an SDK client of your own (sls.Client.WithCredentialsProvider) or a
// Config. It reads nothing yet: each GetCredentials asks the source (which
// caches temporary credentials and renews them within three minutes of
// their expiry); a failure there is a *CredentialsError. It is safe for
// concurrent use. An unknown source or a source missing its settings (such
// as "oidc" without ALIBABA_CLOUD_ROLE_ARN) is an error naming no
// credential.
func NewCredentialsProvider(source, ramRole string) (sls.CredentialsProvider, error) {
	var inner providers.CredentialsProvider
	var err error
	switch source {
	case CredentialsDefault:
		inner = providers.NewDefaultCredentialsProvider()
	case CredentialsEnv:
		inner, err = providers.NewEnvironmentVariableCredentialsProviderBuilder().Build()
	case CredentialsOIDC:
		inner, err = providers.NewOIDCCredentialsProviderBuilder().Build()
	case CredentialsProfile:
		inner, err = providers.NewCLIProfileCredentialsProviderBuilder().Build()
	case CredentialsECSRAMRole:
		inner, err = providers.NewECSRAMRoleCredentialsProviderBuilder().WithRoleName(ramRole).Build()
	default:
		return nil, fmt.Errorf("%q: want %s, %s, %s, %s or %s", source,
			CredentialsDefault, CredentialsEnv, CredentialsOIDC, CredentialsProfile, CredentialsECSRAMRole)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", source, err)
	}
	return &sourceProvider{source: source, inner: inner}, nil
}

// sourceProvider adapts a credentials-go provider to the SDK's
// sls.CredentialsProvider, which the Writer asks before every request.
// The credentials-go providers of temporary credentials (OIDC, ECS RAM
// role, the CLI profile's role modes) cache what they fetched and fetch
// again once it expires within three minutes, so credentials are renewed
// before they expire; they are not safe for concurrent use, hence the
// mutex. When a renewal fails, the last credentials are handed out again
// while the provider keeps trying: they are still valid for up to three
// minutes, and SLS's answer says when they are not.
type sourceProvider struct {
	source string
	mu     sync.Mutex
	inner  providers.CredentialsProvider
	last   sls.Credentials // the last credentials handed out; zero before
}

func (p *sourceProvider) GetCredentials() (sls.Credentials, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, err := p.inner.GetCredentials()
	if err == nil && (c == nil || c.AccessKeyId == "" || c.AccessKeySecret == "") {
		err = fmt.Errorf("no access key")
	}
	if err != nil {
		if p.last.AccessKeyID != "" {
			return p.last, nil
		}
		return sls.Credentials{}, &CredentialsError{Source: p.source, Problem: shortProviderError(err.Error())}
	}
	p.last = sls.Credentials{AccessKeyID: c.AccessKeyId, AccessKeySecret: c.AccessKeySecret, SecurityToken: c.SecurityToken}
	return p.last, nil
}

// shortProviderError keeps what a provider's error says up to the first
// "{", and at most 200 bytes: past that, credentials-go quotes what it
// read, such as a whole CLI profile file that did not parse (secrets
// included) or an STS or metadata answer.
func shortProviderError(s string) string {
	cut := false
	if i := strings.IndexByte(s, '{'); i >= 0 {
		s, cut = strings.TrimRight(s[:i], " :"), true
	}
	if len(s) > 200 {
		s, cut = string(truncateUTF8([]byte(s), 200)), true
	}
	if cut {
		s += " (the rest, which may quote a file or an answer, left out)"
	}
	return s
}

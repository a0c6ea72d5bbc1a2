package main

import (
	"fmt"
	"net/http"
	"os"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/aliyun/aliyun-log-go-sdk/producer"
	kitlog "github.com/go-kit/kit/log"
	kitlevel "github.com/go-kit/kit/log/level"
	"go.uber.org/zap/zapcore"
)

// sdkCore is a zap core in front of the SDK producer, written as
// integrations commonly are: fields collected with a MapObjectEncoder,
// values formatted with fmt.Sprint, one producer.GenerateLog and SendLog
// per entry. The producer has no flush, so Sync does nothing.
type sdkCore struct {
	zapcore.LevelEnabler
	Producer                         *producer.Producer
	Project, Logstore, Topic, Source string
	context                          []zapcore.Field
}

// With returns a copy of c that adds fields to every entry.
func (c *sdkCore) With(fields []zapcore.Field) zapcore.Core {
	clone := *c
	clone.context = append(append([]zapcore.Field(nil), c.context...), fields...)
	return &clone
}

// Check adds c to ce when the level is enabled.
func (c *sdkCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if c.Enabled(ent.Level) {
		return ce.AddCore(ent, c)
	}
	return ce
}

// Write hands the entry to the producer.
func (c *sdkCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range c.context {
		f.AddTo(enc)
	}
	for _, f := range fields {
		f.AddTo(enc)
	}
	m := make(map[string]string, len(enc.Fields)+2)
	for k, v := range enc.Fields {
		m[k] = fmt.Sprint(v)
	}
	m["level"] = ent.Level.String()
	m["msg"] = ent.Message
	return c.Producer.SendLog(c.Project, c.Logstore, c.Topic, c.Source,
		producer.GenerateLog(uint32(ent.Time.Unix()), m))
}

// Sync does nothing: the producer cannot flush.
func (c *sdkCore) Sync() error { return nil }

// startSDKProducer starts the SDK producer v0.1.127 with its default
// configuration, pointed at endpoint through client, except for logging:
// its default logger prints INFO lines to stdout, so it logs warnings and
// errors to stderr instead; and without the once-a-minute status line,
// whose goroutine races with SafeClose (WaitGroup.Add against Wait,
// monitor.go of v0.1.127), which changes nothing else.
func startSDKProducer(endpoint string, client *http.Client, accessKeyID, accessKeySecret string) (*producer.Producer, error) {
	cfg := producer.GetDefaultProducerConfig()
	cfg.Endpoint = endpoint
	cfg.CredentialsProvider = sls.NewStaticCredentialsProvider(accessKeyID, accessKeySecret, "")
	cfg.HTTPClient = client
	cfg.Logger = kitlevel.NewFilter(kitlog.NewLogfmtLogger(os.Stderr), kitlevel.AllowWarn())
	cfg.DisableRuntimeMetrics = true
	p, err := producer.NewProducer(cfg)
	if err != nil {
		return nil, err
	}
	p.Start()
	return p, nil
}

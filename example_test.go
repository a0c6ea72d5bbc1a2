package zapsls_test

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// newWriter returns a Writer shipping to srv, an in-process SLS endpoint.
// Against the real service, Endpoint is a region's host, such as
// "cn-hangzhou.log.aliyuncs.com", and the credentials come from the
// ALIBABA_CLOUD_* environment.
func newWriter(srv *slstest.Server) *zapsls.Writer {
	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint:        srv.Endpoint(),
		Project:         "my-project",
		Logstore:        "my-logstore",
		Topic:           "checkout",
		Tags:            map[string]string{"env": "prod"},
		AccessKeyID:     slstest.DefaultAccessKeyID,
		AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient:      srv.Client(),
	})
	if err != nil {
		panic(err)
	}
	return w
}

// printLogs prints what the endpoint stored, as SLS would show it.
func printLogs(srv *slstest.Server, keys ...string) {
	for _, l := range srv.Logs() {
		var parts []string
		for _, k := range keys {
			if v, ok := l.Contents[k]; ok {
				parts = append(parts, k+"="+v)
			}
		}
		fmt.Printf("__topic__=%s __tag__:env=%s %s\n", l.Topic, l.Tags["env"], strings.Join(parts, " "))
	}
}

// A console core and an SLS core side by side: zapcore.NewTee sends each
// entry to both.
func Example() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	consoleConfig := zap.NewDevelopmentEncoderConfig()
	consoleConfig.TimeKey = "" // keep the example's output stable
	console := zapcore.NewCore(zapcore.NewConsoleEncoder(consoleConfig), zapcore.Lock(os.Stdout), zap.InfoLevel)
	sls := zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel)

	logger := zap.New(zapcore.NewTee(console, sls))
	logger.Info("order placed", zap.String("order", "A-1001"), zap.Int("items", 3))
	// Sync returns once SLS acknowledged every entry written before it.
	// (logger.Sync would also sync the console, which fails harmlessly on
	// a pipe or terminal, a zap quirk; so check the SLS core's answer.)
	if err := sls.Sync(); err != nil {
		fmt.Println(err)
	}
	printLogs(srv, "level", "msg", "order", "items")
	// Output:
	// INFO	order placed	{"order": "A-1001", "items": 3}
	// __topic__=checkout __tag__:env=prod level=info msg=order placed order=A-1001 items=3
}

// zap.Config with an sls:// output: the native "sls" encoding writes
// protobuf straight to SLS. Credentials are normally in the ALIBABA_CLOUD_*
// environment; user info in the URL also works and is never echoed.
func Example_zapConfig() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()

	// Credentials come from the environment, never from the URL.
	os.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", slstest.DefaultAccessKeyID)
	os.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", slstest.DefaultAccessKeySecret)

	cfg := zap.NewProductionConfig()
	cfg.Encoding = "sls"
	cfg.OutputPaths = []string{srv.URL("my-project", "my-logstore") + "&topic=api&tag.env=prod"}
	logger, err := cfg.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer zapsls.CloseSinks() // zap never closes sinks: close them at the end of main
	logger.Info("request", zap.Object("user", zapcore.ObjectMarshalerFunc(func(enc zapcore.ObjectEncoder) error {
		enc.AddString("name", "jane")
		enc.AddInt("id", 42)
		return nil
	})))
	_ = logger.Sync()
	printLogs(srv, "msg", "user.name", "user.id")
	// Output:
	// __topic__=api __tag__:env=prod msg=request user.name=jane user.id=42
}

// With fields are encoded once, when the child logger is made; Named
// loggers name the "logger" content.
func ExampleNewCore_with() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	logger := zap.New(zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	req := logger.Named("http").With(zap.String("request_id", "r-7"), zap.Namespace("req"))
	req.Info("served", zap.Int("status", 200))
	_ = logger.Sync()
	printLogs(srv, "logger", "request_id", "req.status")
	// Output:
	// __topic__=checkout __tag__:env=prod logger=http request_id=r-7 req.status=200
}

// A FieldSet chooses the built-in fields beyond the EncoderConfig keys. An
// empty key means the field's default (pid, program and hostname on, the
// others off); FieldOff leaves a field out.
func ExampleFieldSet() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	fields := zapsls.FieldSet{FileKey: "file", LineKey: "line", ModuleKey: "module", ProgramKey: zapsls.FieldOff, HostnameKey: zapsls.FieldOff}
	enc := zapsls.NewEncoder(zap.NewProductionEncoderConfig(), zapsls.WithFieldSet(fields))
	logger := zap.New(zapsls.NewCore(enc, w, zap.InfoLevel), zap.AddCaller())
	logger.Info("with file and line")
	if err := logger.Sync(); err != nil {
		fmt.Println(err) // fails this example, not the test binary
		return
	}
	logs := srv.Logs()
	if len(logs) != 1 {
		fmt.Println(len(logs), "logs arrived")
		return
	}
	l := logs[0]
	var keys []string
	for k := range l.Contents {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Println(keys)
	fmt.Println(strings.HasSuffix(l.Contents["file"], "example_test.go"), l.Contents["pid"] == fmt.Sprint(os.Getpid()))
	fmt.Println(l.Contents["module"])
	// Output:
	// [caller file level line module msg pid ts]
	// true true
	// github.com/zapsls/zapsls_test
}

// Stats tells what became of every entry.
func ExampleWriter_Stats() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	logger := zap.New(zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	for i := 0; i < 1000; i++ {
		logger.Info("tick", zap.Int("i", i))
	}
	_ = logger.Sync()
	s := w.Stats()
	fmt.Println("enqueued", s.Enqueued, "delivered", s.Delivered, "dropped", s.Dropped, "failed", s.Failed)
	fmt.Println("compressed", s.WireBytes < s.RawBytes)
	// Output:
	// enqueued 1000 delivered 1000 dropped 0 failed 0
	// compressed true
}

// Graceful shutdown: Close delivers what is buffered, bounded by
// CloseTimeout, and says what it could not deliver.
func ExampleWriter_Close() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	logger := zap.New(zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel))
	logger.Info("last words")

	if err := w.Close(); err != nil { // at the end of main, after the last log
		fmt.Println("not delivered:", err)
	}
	fmt.Println(srv.LogCount())
	_, err := w.Write([]byte(`{"msg":"too late"}`))
	fmt.Println(err)
	// Output:
	// 1
	// zapsls: writer is closed
}

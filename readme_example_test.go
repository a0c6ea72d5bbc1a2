package zapsls_test

// The README's code blocks, compiled and run: each block is the region
// between "README:begin" and "README:end" of an example here (or in
// examples/), where a line ending in "// README: TEXT" shows as TEXT, so
// that the README can name the real endpoint while the example ships to
// slstest. TestREADMECodeIsCompiled checks that every ```go block of
// README.md is such a region.

import (
	"fmt"
	"log"
	"os"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// setEnvCredentials puts slstest's keys where a Writer finds them when its
// Config names none, as a service's are in its environment.
func setEnvCredentials() {
	os.Setenv(zapsls.EnvAccessKeyID, slstest.DefaultAccessKeyID)
	os.Setenv(zapsls.EnvAccessKeySecret, slstest.DefaultAccessKeySecret)
}

// printContents prints each log's contents named by keys, sorted by the
// first key's value, and its logstore and topic.
func printContents(srv *slstest.Server, keys ...string) {
	var lines []string
	for _, l := range srv.Logs() {
		parts := []string{l.Logstore, "topic=" + l.Topic}
		for _, k := range keys {
			if v, ok := l.Contents[k]; ok {
				parts = append(parts, k+"="+v)
			}
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	sort.Strings(lines)
	for _, line := range lines {
		fmt.Println(line)
	}
}

// zap.Config with sls:// outputs, from the README's Quickstart.
func Example_zapConfigOutputs() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	setEnvCredentials()

	// README:begin
	// zap's JSON encoding: JSON lines to stdout, and the same entries to SLS
	// (the Writer maps each JSON object's top-level keys to contents).
	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{"stdout", srv.URL("myproject", "mylogstore") + "&topic=api&tag.env=prod"} // README: cfg.OutputPaths = []string{"stdout", "sls://cn-hangzhou.log.aliyuncs.com/myproject/mylogstore?topic=api&tag.env=prod"}

	// The native encoding: no JSON at all on the way to SLS, objects flattened
	// to dotted keys. zap applies one encoding to every output, so with "sls"
	// every output must be an sls:// URL: protobuf on stdout is unreadable.
	cfg.Encoding = "sls"
	cfg.OutputPaths = []string{srv.URL("myproject", "mylogstore") + "&topic=api"} // README: cfg.OutputPaths = []string{"sls://cn-hangzhou.log.aliyuncs.com/myproject/mylogstore?topic=api"}

	logger, err := cfg.Build()
	if err != nil {
		log.Fatal(err) // an unknown or malformed URL parameter is named here
	}
	defer zapsls.CloseSinks() // zap never closes sinks; this closes every sls:// Writer
	defer logger.Sync()       // delivers
	// README:end

	logger.Info("hello", zap.Dict("user", zap.String("name", "ann")))
	if err := logger.Sync(); err != nil {
		fmt.Println(err)
	}
	printContents(srv, "msg", "user.name")
	// Output:
	// mylogstore topic=api msg=hello user.name=ann
}

// Three ways to choose a destination, from the README's "Many
// destinations on one Writer".
func Example_destinations() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	setEnvCredentials()
	w, err := zapsls.NewWriter(zapsls.Config{Endpoint: srv.Endpoint(), Project: "my-project", Logstore: "app"})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	enc := zapsls.NewEncoder(zap.NewProductionEncoderConfig())
	logger := zap.New(zapsls.NewCore(enc, w, zap.InfoLevel))
	userID := "user-7"
	cfg, auditCfg := zap.NewProductionConfig(), zap.NewProductionConfig()

	// README:begin
	// Per core: everything this core writes goes to the audit logstore.
	audit := zapsls.NewCore(enc, w, zap.InfoLevel,
		zapsls.WithDestination(zapsls.Destination{Logstore: "audit", Topic: "payments"}))

	// Per logger: routing fields re-route a child logger (or one entry). They
	// are zapcore.SkipType fields: a console core in the same Tee prints nothing
	// for them.
	payments := logger.With(zapsls.Topic("payments"))
	perUser := logger.With(zapsls.ShardKey(userID)) // one user's entries in order, on one shard
	logger.Info("to the audit logstore, this entry alone", zapsls.Logstore("audit"))

	// Per zap.Config: every sls:// URL names its destination; URLs that differ
	// only in it (path, topic=, source=, hashKey=, processor=) share one Writer.
	cfg.OutputPaths = []string{srv.URL("my-project", "app") + "&topic=api"}                                  // README: cfg.OutputPaths = []string{"sls://cn-hangzhou.log.aliyuncs.com/my-project/app?topic=api"}
	auditCfg.OutputPaths = []string{srv.URL("my-project", "audit") + "&hashKey=tenant-7&processor=mask-pii"} // README: auditCfg.OutputPaths = []string{"sls://cn-hangzhou.log.aliyuncs.com/my-project/audit?hashKey=tenant-7&processor=mask-pii"}
	// README:end

	zap.New(audit).Info("audited")
	payments.Info("paid")
	perUser.Info("in order")
	if err := w.Sync(); err != nil {
		fmt.Println(err)
	}
	fmt.Println(len(cfg.OutputPaths)+len(auditCfg.OutputPaths), "sink URLs")
	printContents(srv, "msg")
	// Output:
	// 2 sink URLs
	// app topic= msg=in order
	// app topic=payments msg=paid
	// audit topic= msg=to the audit logstore, this entry alone
	// audit topic=payments msg=audited
}

// The Python handler's encoder in Go, from the README's "From the Python
// handler".
func Example_pythonHandlerEncoder() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	setEnvCredentials()
	w, err := zapsls.NewWriter(zapsls.Config{Endpoint: srv.Endpoint(), Project: "my-project", Logstore: "my-logstore"})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Close()
	encoderConfig := zap.NewProductionEncoderConfig()

	// README:begin
	enc := zapsls.NewEncoder(encoderConfig, // README: zapsls.NewEncoder(encoderConfig,
		zapsls.WithBuiltinAffixes("__", "__"),
		zapsls.WithMessageJSON(zapsls.Extract{DropMessage: true}),
		zapsls.WithMessageKV(zapsls.Extract{}),
		zapsls.WithFieldSet(zapsls.FieldSet{LevelNumberKey: "levelno", ModuleKey: "module"}))
	// README:end

	zap.New(zapsls.NewCore(enc, w, zap.InfoLevel)).Info(`{"user":"ann","items":3}`)
	if err := w.Sync(); err != nil {
		fmt.Println(err)
	}
	printContents(srv, "user", "items", "__level__", "__levelno__")
	// Output:
	// my-logstore topic= user=ann items=3 __level__=info __levelno__=0
}

// Testing with slstest, from the README's "Testing with slstest".
func Example_testingWithSlstest() {
	// README:begin
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint: srv.Endpoint(), Project: "my-project", Logstore: "my-logstore",
		AccessKeyID: slstest.DefaultAccessKeyID, AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient: srv.Client(),
	})
	if err != nil {
		log.Fatal(err) // "p" would be refused: SLS names have 3 to 63 characters
	}
	srv.FailNext(2, slstest.Fault{Status: 503, Code: "ServerBusy"})                                                  // retried
	zap.New(zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zapcore.InfoLevel)).Info("hello") // README: // ... log ...
	_ = w.Sync()
	for _, l := range srv.Logs() {
		fmt.Println(l.Contents["msg"])
	}
	// README:end
	_ = w.Close()
	fmt.Println(len(srv.Rejections()), "answered 503 first")
	// Output:
	// hello
	// 2 answered 503 first
}

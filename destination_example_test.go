package zapsls_test

import (
	"fmt"
	"os"
	"sort"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// printDestinations prints where each stored log went, sorted by message.
func printDestinations(srv *slstest.Server) {
	var lines []string
	for _, l := range srv.Logs() {
		lines = append(lines, fmt.Sprintf("%-12s -> %s/%s topic=%q hashed=%v", l.Contents["msg"], l.Project, l.Logstore, l.Topic, l.HashKey != ""))
	}
	sort.Strings(lines)
	for _, s := range lines {
		fmt.Println(s)
	}
}

// One Writer, two destinations: a core fixed to the audit logstore beside
// the Writer's default.
func ExampleWithDestination() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	enc := zapsls.NewEncoder(zap.NewProductionEncoderConfig())
	app := zap.New(zapsls.NewCore(enc, w, zap.InfoLevel))
	audit := zap.New(zapsls.NewCore(enc, w, zap.InfoLevel,
		zapsls.WithDestination(zapsls.Destination{Logstore: "audit", Topic: "payments"})))
	app.Info("app entry")
	audit.Info("audit entry")
	if err := w.Sync(); err != nil { // Sync delivers every destination
		fmt.Println(err)
		return
	}
	printDestinations(srv)
	// Output:
	// app entry    -> my-project/my-logstore topic="checkout" hashed=false
	// audit entry  -> my-project/audit topic="payments" hashed=false
}

// Routing fields re-route a child logger, or one entry; a console core in
// the same Tee ignores them.
func ExampleTopic() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	consoleConfig := zap.NewDevelopmentEncoderConfig()
	consoleConfig.TimeKey = ""
	console := zapcore.NewCore(zapcore.NewConsoleEncoder(consoleConfig), zapcore.Lock(os.Stdout), zap.InfoLevel)
	sls := zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel)
	logger := zap.New(zapcore.NewTee(console, sls))

	payments := logger.With(zapsls.Topic("payments"), zap.String("module", "pay"))
	payments.Info("paid")
	logger.With(zapsls.ShardKey("user-42")).Info("in order")
	logger.Info("audited", zapsls.Logstore("audit"))
	if err := sls.Sync(); err != nil {
		fmt.Println(err)
		return
	}
	printDestinations(srv)
	// Output:
	// INFO	paid	{"module": "pay"}
	// INFO	in order
	// INFO	audited
	// audited      -> my-project/audit topic="checkout" hashed=false
	// in order     -> my-project/my-logstore topic="checkout" hashed=true
	// paid         -> my-project/my-logstore topic="payments" hashed=false
}

// Two sls:// URLs on one endpoint, two destinations, one Writer.
func ExampleSinkWriter_destinations() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()

	// Credentials come from the environment, never from the URL.
	os.Setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", slstest.DefaultAccessKeyID)
	os.Setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", slstest.DefaultAccessKeySecret)
	url := func(logstore, params string) string {
		return srv.URL("my-project", logstore) + params
	}
	cfg := zap.NewProductionConfig()
	cfg.OutputPaths = []string{url("app", "&topic=api")}
	app, err := cfg.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg.OutputPaths = []string{url("audit", "&hashKey=tenant-7")}
	audit, err := cfg.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer zapsls.CloseSinks()
	app.Info("app entry")
	audit.Info("audit entry")
	w1, _ := zapsls.SinkWriter(url("app", "&topic=api"))
	w2, _ := zapsls.SinkWriter(url("audit", "&hashKey=tenant-7"))
	fmt.Println("one Writer:", w1 == w2)
	_ = app.Sync()
	printDestinations(srv)
	// Output:
	// one Writer: true
	// app entry    -> my-project/app topic="api" hashed=false
	// audit entry  -> my-project/audit topic="" hashed=true
}

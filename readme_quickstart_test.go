//go:build unix

package zapsls_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// The README's Quickstart: a console core beside the SLS core, and the
// shutdown recipe. Here the process sends itself the SIGTERM Kubernetes
// would send.
func Example_quickstart() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	setEnvCredentials()
	time.AfterFunc(200*time.Millisecond, func() { _ = syscall.Kill(os.Getpid(), syscall.SIGTERM) })

	// README:begin
	// Kubernetes stops a pod with SIGTERM, and Go's default is to exit at
	// once, without deferred calls: catch it, so that w.Close runs.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint: srv.Endpoint(), // README: Endpoint: "cn-hangzhou.log.aliyuncs.com", // HTTPS unless you write http://
		Project:  "my-project",
		Logstore: "my-logstore",
		Topic:    "checkout",
		Tags:     map[string]string{"env": "prod"},
		// Credentials: ALIBABA_CLOUD_ACCESS_KEY_ID / _SECRET / _SECURITY_TOKEN,
		// or CredentialsFrom: "default" (the Alibaba Cloud chain, see Credentials).
	})
	if err != nil {
		log.Fatal(err) // names the Config field that is wrong
	}
	defer w.Close() // delivers what is buffered, bounded by CloseTimeout

	// os.Stderr's Sync fails on a terminal or a pipe ("sync /dev/stderr:
	// invalid argument"), and logger.Sync would report that although SLS has
	// every entry: struct{ io.Writer } hides it (console lines are unbuffered).
	stderr := zapcore.Lock(zapcore.AddSync(struct{ io.Writer }{os.Stderr}))
	console := zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), stderr, zap.InfoLevel)
	sls := zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.InfoLevel)
	logger := zap.New(zapcore.NewTee(console, sls), zap.AddCaller())

	logger.Info("order placed", zap.String("order", "A-1001"), zap.Int("items", 3))

	<-ctx.Done() // serve until SIGTERM or Ctrl-C
	if err := logger.Sync(); err != nil {
		log.Print(err) // nil means SLS acknowledged every entry
	}
	// README:end

	fmt.Println("logger.Sync:", logger.Sync())
	printContents(srv, "msg", "order", "items")
	// Output:
	// logger.Sync: <nil>
	// my-logstore topic=checkout msg=order placed order=A-1001 items=3
}

package examples_test

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// log/slog through zapsls: zapslog.NewHandler turns a zapsls core into an
// slog.Handler. Attributes become contents, groups dotted keys, and
// WithCaller(true) the caller content.
func Example_slog() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()

	w, err := zapsls.NewWriter(zapsls.Config{
		Endpoint: srv.Endpoint(), Project: "my-project", Logstore: "my-logstore",
		AccessKeyID: slstest.DefaultAccessKeyID, AccessKeySecret: slstest.DefaultAccessKeySecret,
		HTTPClient: srv.Client(), // only for slstest; leave it out for SLS
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close() // delivers what is buffered, bounded by CloseTimeout

	// README:begin
	core := zapsls.NewCore(zapsls.NewEncoder(zap.NewProductionEncoderConfig()), w, zap.DebugLevel)
	logger := slog.New(zapslog.NewHandler(core, zapslog.WithCaller(true)))
	slog.SetDefault(logger)

	req := logger.With("request_id", "r-7").WithGroup("http")
	req.Info("served", "status", 200, slog.Group("user", "id", 42))
	// arrives as: http.status=200 http.user.id=42 level=info msg=served request_id=r-7 caller=...
	// README:end
	logger.Warn("slow", "took_ms", 1500)

	_ = w.Sync() // returns once SLS has acknowledged every entry
	for _, l := range srv.Logs() {
		keys := make([]string, 0, len(l.Contents))
		for k, v := range l.Contents {
			if k == "ts" || k == "caller" || k == "hostname" || k == "pid" || k == "program" {
				continue // vary from run to run
			}
			keys = append(keys, k+"="+v)
		}
		sort.Strings(keys)
		fmt.Println(strings.Join(keys, " "))
	}
	// Output:
	// http.status=200 http.user.id=42 level=info msg=served request_id=r-7
	// level=warn msg=slow took_ms=1500
}

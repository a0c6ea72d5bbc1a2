package zapsls_test

import (
	"go.uber.org/zap"

	"github.com/zapsls/zapsls"
	"github.com/zapsls/zapsls/slstest"
)

// WithMessageJSON and WithMessageKV turn what a message holds into
// contents, as the Python SDK handler's extract_json and extract_kv do;
// WithBuiltinAffixes keeps the built-in keys apart from them.
func ExampleWithMessageJSON() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	w := newWriter(srv)
	defer w.Close()

	enc := zapsls.NewEncoder(zap.NewProductionEncoderConfig(),
		zapsls.WithFieldSet(zapsls.NoFieldSet()),
		zapsls.WithBuiltinAffixes("_", ""),
		zapsls.WithMessageJSON(zapsls.Extract{DropMessage: true}),
		zapsls.WithMessageKV(zapsls.Extract{Prefix: "kv."}))
	logger := zap.New(zapsls.NewCore(enc, w, zap.InfoLevel))
	logger.Info(`{"order":"A-1001","items":3,"customer":{"id":7}}`)
	logger.Info(`order placed order=A-1002 note="gift, wrapped"`)
	logger.Info("nothing to extract")
	_ = logger.Sync()

	printLogs(srv, "_msg", "order", "items", "customer", "kv.order", "kv.note")
	// Output:
	// __topic__=checkout __tag__:env=prod order=A-1001 items=3 customer={"id":7}
	// __topic__=checkout __tag__:env=prod _msg=order placed order=A-1002 note="gift, wrapped" kv.order=A-1002 kv.note=gift, wrapped
	// __topic__=checkout __tag__:env=prod _msg=nothing to extract
}

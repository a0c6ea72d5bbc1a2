// Package slstest provides an in-process Alibaba Cloud Log Service (SLS)
// PutLogs endpoint for tests, in the spirit of net/http/httptest.
//
// A Server listens on a loopback port, verifies each request as SLS does,
// keeps what it accepted for assertions, and injects faults on demand:
//
//	srv := slstest.NewServer(slstest.Options{})
//	defer srv.Close()
//
//	client := (&sls.Client{
//		Endpoint:   srv.Endpoint(), // "http://127.0.0.1:PORT"
//		HTTPClient: srv.Client(),   // reaches "proj.127.0.0.1:PORT"
//	}).WithCredentialsProvider(sls.NewStaticCredentialsProvider(
//		slstest.DefaultAccessKeyID, slstest.DefaultAccessKeySecret, ""))
//
//	srv.FailNext(1, slstest.Fault{Status: 503, Code: "ServerBusy"})
//	err := client.PutLogs("proj", "store", group) // the SDK retries the 503
//	if !srv.WaitLogs(len(group.Logs), 5*time.Second) {
//		t.Fatal("logs did not arrive")
//	}
//	for _, l := range srv.Logs() {
//		_ = l.Contents["message"]
//	}
//
// A client under test is configured the same way: Endpoint() as its
// endpoint, the default credentials, and Client() as its HTTP client.
// A zapsls sink URL for the server is URL(project, logstore).
//
// Clients address a project as "{project}.{endpoint host}", so the server
// reads the project from the Host header's first label. Such host names do
// not resolve: connect through Client, whose transport always dials Addr.
//
// # What is verified
//
// Requests are checked in this order; the first failure is answered in
// SLS's format, {"errorCode":"...","errorMessage":"..."} with
// Content-Type application/json and an x-log-requestid header, and is
// recorded in Rejections. A 200 has an empty body and an x-log-requestid.
//
//	route     POST /logstores/{ls}, /logstores/{ls}/shards/lb,
//	          /logstores/{ls}/shards/route?key=K          404 NotFound, 405 MethodNotAllowed,
//	                                                      400 ParameterInvalid (no key)
//	size      body larger than MaxRawBytes can compress to 400 PostBodyTooLarge (not read)
//	Host      "{project}.{endpoint}"                      400 MissingHost, 400 InvalidHost
//	          Options.Projects / Options.Logstores        404 ProjectNotExist, 404 LogStoreNotExist
//	headers   x-log-apiversion 0.6.0                      400 MissingAPIVersion, InvalidAPIVersion
//	          Content-Type application/x-protobuf         400 MissingContentType, 415 InvalidContentType
//	          x-log-bodyrawsize                           400 MissingBodyRawSize, InvalidBodyRawSize,
//	                                                      PostBodyTooLarge (> MaxRawBytes)
//	          Content-MD5, upper-case hex of the body     400 InvalidContentMD5
//	auth      Authorization present and well formed       401 Unauthorized, 400 ParameterInvalid
//	          V1: Date (RFC 1123), x-log-signaturemethod  400 MissingDate, InvalidDateFormat,
//	          hmac-sha1, Content-MD5 with a body          MissingSignatureMethod, InvalidSignatureMethod,
//	                                                      MissingContentMD5
//	          V4: x-log-date, x-log-content-sha256        400 MissingDate, InvalidDateFormat,
//	                                                      InvalidContentSha256
//	          clock within MaxSkew                        400 RequestTimeTooSkewed
//	          access key, signature, security token       401 InvalidAccessKeyId, SignatureNotMatch,
//	                                                      Unauthorized
//	body      x-log-compresstype "", lz4, zstd, deflate   400 InvalidCompressType
//	          decodes to exactly x-log-bodyrawsize bytes  400 PostBodyUncompressError, InvalidBodyRawSize
//	          a LogGroup, as the SDK's Unmarshal reads it 400 PostBodyInvalid
//	          at most MaxLogs logs                        400 PostBodyTooLarge
//	          topic, source, tags: UTF-8, <= 128 bytes    400 InvalidEncoding, PostBodyInvalid, InvalidKey
//	          Time within MaxLogAge / MaxLogFuture,
//	          TimeNs below one second                     400 InvalidTimestamp
//	          keys: UTF-8, 1..128 bytes, not __time__,
//	          __source__, __topic__, __partition_time__,
//	          _extract_others_, __extract_others__,
//	          nor __tag__:*                               400 InvalidEncoding, InvalidKey
//	          values: at most 1,000,000 bytes, UTF-8      400 PostBodyInvalid, InvalidEncoding
//
// The LogGroup is checked in one pass over its protobuf bytes that
// allocates nothing, and refuses exactly what decoding it with the SDK's
// (*sls.LogGroup).Unmarshal and checking the decoded group refuses, with
// the same code (a differential fuzz test holds it to that). A Server that
// keeps logs (neither DiscardLogs nor a full KeepLogs sample) also decodes
// each request with the SDK, which Requests and Logs read back, and answers
// 500 InternalServerError, naming both verdicts, should the two ever
// disagree.
//
// Signatures are recomputed with the SDK's own signers (sls.NewSignerV1,
// sls.NewSignerV4, any region) over the received headers, so whatever the
// official SDK signs is accepted. Codes SLS documents are used where known;
// MissingContentMD5, InvalidContentMD5, InvalidContentSha256, NotFound,
// MethodNotAllowed and the TimeNs check are this package's choices where
// the SLS documentation names none. Duplicate content keys are accepted, as
// zap may produce them; Log.Keys keeps them all.
//
// # Faults
//
// FailNext, FailFor and FailRate answer chosen requests with an error, a
// delay or a dropped connection (see Fault); SetDelay slows every request;
// SetClockOffset skews the server's clock; RefuseConnections,
// AcceptConnections and RefuseFor make the port refuse connections;
// SetResponseBody replaces answers with arbitrary bytes, and Fault.Body one
// answer, as a proxy in front of SLS would answer; Fault.ContentEncoding
// sends an error body gzip- or deflate-compressed, asked for or not.
// Faults apply after routing and before verification. All of them may be
// changed while requests are in flight.
//
// # Attempts
//
// Requests, Logs and Rejections keep what a client's requests led to. With
// Options.RecordAttempts, Attempts also keeps every request whose body was
// read, whatever it was answered, with the body as sent and its
// __pack_id__: a test can check that a client's retry is byte-identical to
// the attempt it repeats.
//
// # Memory
//
// A Server keeps each accepted request as its uncompressed LogGroup bytes
// and a copy of its headers: about the logs' protobuf size (a 12-key
// request log of 250 bytes costs about 260 bytes of heap), not the decoded
// maps that Logs returns, which it builds again on every call. For a test
// of millions of entries, Options.KeepLogs keeps a bounded sample and
// Options.DiscardLogs only counts; both still verify every request.
package slstest

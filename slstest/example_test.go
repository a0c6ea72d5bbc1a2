package slstest_test

import (
	"errors"
	"fmt"
	"time"

	sls "github.com/aliyun/aliyun-log-go-sdk"
	"github.com/gogo/protobuf/proto"

	"github.com/zapsls/zapsls/slstest"
)

func exampleGroup(msg string) *sls.LogGroup {
	return &sls.LogGroup{
		Topic: proto.String("demo"),
		Logs: []*sls.Log{{
			Time:     proto.Uint32(uint32(time.Now().Unix())),
			Contents: []*sls.LogContent{{Key: proto.String("message"), Value: proto.String(msg)}},
		}},
	}
}

func exampleClient(srv *slstest.Server) *sls.Client {
	return (&sls.Client{Endpoint: srv.Endpoint(), HTTPClient: srv.Client()}).
		WithCredentialsProvider(sls.NewStaticCredentialsProvider(
			slstest.DefaultAccessKeyID, slstest.DefaultAccessKeySecret, ""))
}

func Example() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()

	if err := exampleClient(srv).PutLogs("my-project", "my-logstore", exampleGroup("hello")); err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range srv.Logs() {
		fmt.Println(l.Project, l.Logstore, l.Topic, l.Contents["message"])
	}
	// Output: my-project my-logstore demo hello
}

func ExampleServer_FailNext() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()
	client := exampleClient(srv)

	// The SDK does not retry a 403, so the first put fails.
	srv.FailNext(1, slstest.Fault{Status: 403, Code: "WriteQuotaExceed"})
	var slsErr *sls.Error
	if err := client.PutLogs("p", "s", exampleGroup("first")); errors.As(err, &slsErr) {
		fmt.Println(slsErr.HTTPCode, slsErr.Code)
	}
	if err := client.PutLogs("p", "s", exampleGroup("second")); err == nil {
		fmt.Println(srv.LogCount(), len(srv.Rejections()))
	}
	// Output:
	// 403 WriteQuotaExceed
	// 1 1
}

func ExampleServer_RefuseFor() {
	srv := slstest.NewServer(slstest.Options{})
	defer srv.Close()

	srv.RefuseFor(100 * time.Millisecond) // connections are refused, then accepted again
	err := exampleClient(srv).PutLogs("p", "s", exampleGroup("lost"))
	fmt.Println(err != nil)
	time.Sleep(200 * time.Millisecond)
	err = exampleClient(srv).PutLogs("p", "s", exampleGroup("delivered"))
	fmt.Println(err, srv.LogCount())
	// Output:
	// true
	// <nil> 1
}

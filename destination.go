package zapsls

import (
	"maps"
	"slices"

	"github.com/zapsls/zapsls/internal/pb"
)

// route is a destination compiled for posting: the request's path, URL and
// Host, and the LogGroup fields every batch to it ends with. Routes are
// built once and never change, so batches and posters share them freely.
type route struct {
	project, logstore string
	topic, source     string // for Delivery
	uri               string // the path as signed: /logstores/LOGSTORE/shards/lb
	url               string // scheme://host/uri, the address dialled
	reqHost           string // the Host header: PROJECT.ENDPOINT-HOST
	groupTail         []byte // Topic, Source and LogTags, encoded once
	// maxBody is the most framed-Log bytes one batch to this route holds:
	// MaxBatchBytes less the group's tail and its pack id.
	maxBody int
}

// newRoute compiles the destination named by cfg's Project, Logstore,
// Topic, Source and Tags.
func newRoute(cfg *Config, ep endpoint) *route {
	r := &route{project: cfg.Project, logstore: cfg.Logstore, topic: cfg.Topic, source: cfg.Source}
	r.uri = "/logstores/" + cfg.Logstore + "/shards/lb"
	r.reqHost = cfg.Project + "." + ep.host
	dialTo := r.reqHost
	if ep.dialTo == ep.host { // an IP address or localhost: dialled directly
		dialTo = ep.host
	}
	r.url = ep.scheme + "://" + dialTo + r.uri
	if cfg.Topic != "" {
		r.groupTail = pb.AppendString(r.groupTail, pb.TagGroupTopic, cfg.Topic)
	}
	if cfg.Source != "" {
		r.groupTail = pb.AppendString(r.groupTail, pb.TagGroupSource, cfg.Source)
	}
	for _, k := range slices.Sorted(maps.Keys(cfg.Tags)) {
		r.groupTail = pb.AppendPair(r.groupTail, pb.TagGroupTag, k, cfg.Tags[k])
	}
	r.maxBody = cfg.MaxBatchBytes - len(r.groupTail) - packIDTagMax
	return r
}

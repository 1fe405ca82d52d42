package schemas

// Pub/Sub message attributes of an event: the contract between the ingest
// gateway, which sets them, and every subscriber (the speed and archive
// jobs' source reads the event time from AttrEventTime; Dataflow's native
// read deduplicates on AttrEventID).
const (
	AttrEventID       = "event_id"
	AttrEventTime     = "event_time"
	AttrSchemaVersion = "schema_version"
)

// EventTimeAttrLayout is the layout of the event_time attribute: RFC 3339
// with milliseconds, always in UTC ("Z").
const EventTimeAttrLayout = "2006-01-02T15:04:05.000Z07:00"

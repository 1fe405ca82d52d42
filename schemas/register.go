package schemas

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Registering the row types lets Beam encode them with schema coders and
// resolve them without reflection fallbacks on remote workers.
func init() {
	// GameEvent is the type that flows in volume: a compact binary coder
	// instead of a schema row.
	beam.RegisterCoder(reflect.TypeOf((*GameEvent)(nil)).Elem(), encodeEvent, decodeEvent)
	for _, t := range []reflect.Type{
		reflect.TypeOf((*UserScore)(nil)).Elem(),
		reflect.TypeOf((*TeamScore)(nil)).Elem(),
		reflect.TypeOf((*DeadLetter)(nil)).Elem(),
		reflect.TypeOf((*BatchRun)(nil)).Elem(),
		reflect.TypeOf((*UserScoreDaily)(nil)).Elem(),
		reflect.TypeOf((*GameStatsDaily)(nil)).Elem(),
		reflect.TypeOf((*SessionStats)(nil)).Elem(),
		reflect.TypeOf((*RealtimeTeamScore)(nil)).Elem(),
		reflect.TypeOf((*UserScoreDailyPane)(nil)).Elem(),
		reflect.TypeOf((*StreamProgress)(nil)).Elem(),
	} {
		beam.RegisterType(t)
	}
}

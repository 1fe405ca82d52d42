package schemas

import (
	"reflect"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Registering the row types lets Beam encode them with schema coders and
// resolve them without reflection fallbacks on remote workers.
func init() {
	for _, t := range []reflect.Type{
		reflect.TypeOf((*GameEvent)(nil)).Elem(),
		reflect.TypeOf((*UserScore)(nil)).Elem(),
		reflect.TypeOf((*TeamScore)(nil)).Elem(),
		reflect.TypeOf((*DeadLetter)(nil)).Elem(),
		reflect.TypeOf((*BatchRun)(nil)).Elem(),
		reflect.TypeOf((*UserScoreDaily)(nil)).Elem(),
		reflect.TypeOf((*GameStatsDaily)(nil)).Elem(),
	} {
		beam.RegisterType(t)
	}
}

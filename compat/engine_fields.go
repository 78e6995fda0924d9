package compat

import (
	"reflect"
	"strings"
	"sync"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

// A handler that keeps the gnet.Engine its OnBoot receives holds gnet.Engine{} on uringnet (gnet's
// Engine cannot be made elsewhere): its Stop fails, its CountConnections is -1. Nothing says so
// at compile time, so Run says so once per handler type, naming the fields.

var engineTypes = map[reflect.Type]bool{
	reflect.TypeOf(gnet.Engine{}):  true,
	reflect.TypeOf(&gnet.Engine{}): true,
}

// warned holds the handler types already warned about.
var warned sync.Map

// warnEngineFields logs, once per type, that h keeps gnet.Engine fields, and what to do instead.
func warnEngineFields(h gnet.EventHandler, logger logging.Logger) {
	t := reflect.TypeOf(h)
	if t == nil {
		return
	}
	if _, done := warned.LoadOrStore(t, true); done {
		return
	}
	if fields := engineFields(t, "", map[reflect.Type]bool{}); len(fields) > 0 {
		logger.Warnf("uringnet: %v keeps a gnet.Engine (%s): on uringnet, OnBoot gives gnet.Engine{}, "+
			"whose Stop and CountConnections do nothing; keep uringnet.BootEngine(handler, e) instead "+
			"(go run github.com/uringnet/uringnet/cmd/uringnet-migrate -fix does it)", t, strings.Join(fields, ", "))
	}
}

// engineFields names the fields of t (a struct, or a pointer to one), and of the structs it
// embeds, whose type is gnet.Engine or a pointer to one.
func engineFields(t reflect.Type, prefix string, seen map[reflect.Type]bool) []string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || seen[t] {
		return nil
	}
	seen[t] = true
	var names []string
	for i := range t.NumField() {
		f := t.Field(i)
		switch {
		case engineTypes[f.Type]:
			names = append(names, prefix+f.Name)
		case f.Anonymous:
			names = append(names, engineFields(f.Type, prefix+f.Name+".", seen)...)
		}
	}
	return names
}

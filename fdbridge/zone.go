package fdbridge

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// zoneName is the IPv6 zone of an interface index, as net names it: the interface's name, or
// the index in decimal when there is no such interface; "" for none.
//
// The names are kept for a minute, as net keeps them: asking the kernel is a dump of every
// interface, which would cost more than the accept of a link-local peer that needs it.
func zoneName(index uint32) string {
	if index == 0 {
		return ""
	}
	zones.Lock()
	defer zones.Unlock()
	refreshed := zones.refresh(false)
	name, ok := zones.byIndex[index]
	if !ok && !refreshed {
		zones.refresh(true) // an interface that came since
		name, ok = zones.byIndex[index]
	}
	if !ok {
		return strconv.FormatUint(uint64(index), 10)
	}
	return name
}

// zones holds the interfaces' names by index.
var zones zoneNames

type zoneNames struct {
	sync.Mutex
	byIndex map[uint32]string
	at      time.Time
}

// refresh asks the kernel again if forced or if what z holds is a minute old, and says whether
// it asked; what it held stays if the asking fails.
func (z *zoneNames) refresh(force bool) bool {
	if !force && z.byIndex != nil && time.Since(z.at) < time.Minute {
		return false
	}
	z.at = time.Now()
	ifs, err := net.Interfaces()
	if err != nil {
		return true
	}
	z.byIndex = make(map[uint32]string, len(ifs))
	for _, ifi := range ifs {
		z.byIndex[uint32(ifi.Index)] = ifi.Name
	}
	return true
}

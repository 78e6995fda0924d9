package main

import (
	"bytes"
	"hash/maphash"
	"sync"
)

// execute appends the reply to one command.
func (rs *respServer) execute(out []byte, args [][]byte) []byte {
	if len(args) == 0 {
		return out
	}
	switch name := args[0]; {
	case is(name, "PING") && len(args) == 1:
		return appendSimple(out, "PONG")
	case is(name, "PING") && len(args) == 2, is(name, "ECHO") && len(args) == 2:
		return appendBulk(out, args[1])
	case is(name, "SET") && len(args) == 3:
		rs.store.set(args[1], args[2])
		return appendSimple(out, "OK")
	case is(name, "GET") && len(args) == 2:
		if v, ok := rs.store.get(args[1], out); ok {
			return v
		}
		return append(out, "$-1\r\n"...)
	case is(name, "DEL") && len(args) >= 2:
		n := int64(0)
		for _, k := range args[1:] {
			if rs.store.del(k) {
				n++
			}
		}
		return appendInt(out, n)
	case is(name, "CONFIG") && len(args) == 3 && is(args[1], "GET"):
		out = append(out, "*2\r\n"...) // every parameter is known, and empty
		return appendBulk(appendBulk(out, args[2]), nil)
	case is(name, "PING"), is(name, "ECHO"), is(name, "SET"), is(name, "GET"), is(name, "DEL"), is(name, "CONFIG"):
		return appendError(out, "wrong number of arguments for '"+string(bytes.ToLower(name))+"' command")
	default:
		return appendError(out, "unknown command '"+string(name)+"'")
	}
}

// is reports whether a command word is name, in any case.
func is(word []byte, name string) bool { return bytes.EqualFold(word, []byte(name)) }

// store is the key space, shared by every event loop: shards, each with its own lock, keep
// loops from waiting for one another.
type store struct {
	seed   maphash.Seed
	shards [64]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[string][]byte
}

func newStore() *store {
	s := &store{seed: maphash.MakeSeed()}
	for i := range s.shards {
		s.shards[i].m = map[string][]byte{}
	}
	return s
}

func (s *store) shard(key []byte) *shard {
	return &s.shards[maphash.Bytes(s.seed, key)%uint64(len(s.shards))]
}

// set copies value (the caller's bytes are the connection's buffer) into key's slot, reusing
// the slot's memory when it is large enough.
func (s *store) set(key, value []byte) {
	sh := s.shard(key)
	sh.mu.Lock()
	sh.m[string(key)] = append(sh.m[string(key)][:0], value...)
	sh.mu.Unlock()
}

// get appends key's value to out as a bulk string.
func (s *store) get(key, out []byte) ([]byte, bool) {
	sh := s.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	v, ok := sh.m[string(key)]
	if !ok {
		return out, false
	}
	return appendBulk(out, v), true
}

func (s *store) del(key []byte) bool {
	sh := s.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	_, ok := sh.m[string(key)]
	delete(sh.m, string(key))
	return ok
}

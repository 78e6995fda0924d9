package netpoll

import (
	gnetpoll "github.com/panjf2000/gnet/v2/pkg/netpoll"
)

// gnet's types, as aliases: a value made with one package is the other's.
type (
	// IOEvent is the epoll event mask a callback receives (unix.EPOLLIN, EPOLLOUT, …).
	IOEvent = gnetpoll.IOEvent
	// IOFlags are the event's flags; always 0 on Linux.
	IOFlags = gnetpoll.IOFlags
	// PollEventHandler is the callback for the events of a registered descriptor.
	PollEventHandler = gnetpoll.PollEventHandler
	// PollAttachment is a descriptor and its callback, registered with a Poller.
	PollAttachment = gnetpoll.PollAttachment
)

// gnet's constants, with gnet's values and meaning.
const (
	// InitPollEventsCap is the initial capacity of gnet's event list.
	InitPollEventsCap = gnetpoll.InitPollEventsCap
	// MaxPollEventsCap is the most events gnet's poller takes per wait; it is also the length
	// of the urgent task queue from which Trigger shunts low-priority tasks to their own.
	MaxPollEventsCap = gnetpoll.MaxPollEventsCap
	// MinPollEventsCap is the least capacity of gnet's event list.
	MinPollEventsCap = gnetpoll.MinPollEventsCap
	// MaxAsyncTasksAtOneTime is the most low-priority tasks run per iteration of Polling.
	MaxAsyncTasksAtOneTime = gnetpoll.MaxAsyncTasksAtOneTime
	// ReadEvents are the events of a readable descriptor (EPOLLIN|EPOLLPRI).
	ReadEvents = gnetpoll.ReadEvents
	// WriteEvents are the events of a writable descriptor (EPOLLOUT).
	WriteEvents = gnetpoll.WriteEvents
	// ReadWriteEvents are ReadEvents and WriteEvents.
	ReadWriteEvents = gnetpoll.ReadWriteEvents
	// ErrEvents are the error events (EPOLLERR|EPOLLHUP), reported whatever was registered.
	ErrEvents = gnetpoll.ErrEvents
)

// IsReadEvent reports whether event has a read event.
func IsReadEvent(event IOEvent) bool { return gnetpoll.IsReadEvent(event) }

// IsWriteEvent reports whether event has a write event.
func IsWriteEvent(event IOEvent) bool { return gnetpoll.IsWriteEvent(event) }

// IsErrorEvent reports whether event has an error event.
func IsErrorEvent(event IOEvent, flags IOFlags) bool { return gnetpoll.IsErrorEvent(event, flags) }

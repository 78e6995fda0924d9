package ringset

// The network names a set serves, as net names them.

// IsTCP reports whether network is "tcp", "tcp4" or "tcp6".
func IsTCP(network string) bool { return network == "tcp" || network == "tcp4" || network == "tcp6" }

// IsUDP reports whether network is "udp", "udp4" or "udp6".
func IsUDP(network string) bool { return network == "udp" || network == "udp4" || network == "udp6" }

// IsStream reports whether network is a stream one a set serves: TCP's or "unix".
func IsStream(network string) bool { return IsTCP(network) || network == "unix" }

// Serves reports whether a set serves network: TCP's, UDP's or "unix".
func Serves(network string) bool { return IsStream(network) || IsUDP(network) }

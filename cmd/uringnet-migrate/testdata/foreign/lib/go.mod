module example.com/lib

go 1.24

require github.com/panjf2000/gnet/v2 v2.10.0

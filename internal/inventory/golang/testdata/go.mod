module example.com/app

go 1.22

require (
	github.com/google/uuid v1.6.0
	golang.org/x/text v0.3.0 // indirect
	example.com/local v1.0.0
	example.com/forked v1.2.0
)

replace example.com/local => ../local

replace example.com/forked v1.2.0 => github.com/someone/forked v1.2.1-fix
